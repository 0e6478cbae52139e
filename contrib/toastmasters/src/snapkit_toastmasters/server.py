"""A local Toastmasters dashboard serving a :class:`~snapkit_toastmasters.generator.Dashboard`'s
CSV exports, with faults on demand. It listens on loopback in a background thread::

    with serve(Dashboard.generate(3, 150)) as server:
        server.base_url        # http://127.0.0.1:PORT
        server.advance()       # the next month
        server.set_faults(server_errors=2)

``GET /export.aspx?type=CSV&report=<report>~<district>~<month end M/D/YYYY>~<as of>~<year>``
answers one export (``districtsummary``, ``districtperformance``, ``clubperformance``); an
empty month end means the current month; the open program year is served in its format, the
year before in the closed one (its June). Admin endpoints (no authentication; loopback use):
``GET /__admin/state``, ``POST /__admin/faults`` (a JSON :class:`Faults`),
``POST /__admin/advance`` (``{"months": n}``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import attrs

from snapkit_toastmasters.generator import Dashboard, month_end
from snapkit_toastmasters.render import render_report
from snapkit_toastmasters.settings import REPORTS

log = logging.getLogger(__name__)

_REPORT_KEYS = {name: key for key, name in REPORTS.items()}


@attrs.frozen(kw_only=True)
class Faults:
    """What the server does wrong, on purpose; all off by default.

    :param server_errors: answer the next N matching exports with HTTP 500.
    :param server_errors_always: answer every matching export with HTTP 500.
    :param truncate: cut the next N matching exports short (no trailing line).
    :param truncate_always: cut every matching export short.
    :param missing_column: leave this column (a heading) out of matching exports.
    :param stale_days: date matching exports this many days before their as-of date.
    :param report: only exports of this report key (``club_performance``, ...) match.
    :param district: only exports of this district match.
    """

    server_errors: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    server_errors_always: bool = False
    truncate: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    truncate_always: bool = False
    missing_column: str | None = None
    stale_days: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    report: str | None = attrs.field(default=None)
    district: str | None = None

    @report.validator
    def _known(self, _attribute: Any, value: str | None) -> None:
        if value is not None and value not in REPORTS:
            raise ValueError(f"report must be one of {', '.join(REPORTS)}")

    @classmethod
    def from_json(cls, data: Any) -> Faults:
        """Faults from a JSON object; unknown keys are an error.

        :raises ValueError: naming what is wrong.
        """
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        known = {a.name for a in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def matches(self, report: str, district: str) -> bool:
        return self.report in (None, report) and self.district in (None, district)


class DashboardState:
    """The served dashboard, its faults and request counters (thread-safe)."""

    def __init__(
        self, dashboard: Dashboard, faults: Faults | None = None, *, bom: bool = True
    ) -> None:
        self.dashboard = dashboard
        self.bom = bom
        self.lock = threading.Lock()
        self.requests = 0
        self.set_faults(faults or Faults())

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self._left = {"server_errors": faults.server_errors, "truncate": faults.truncate}

    def take(self, name: str) -> bool:
        """Spend one of the counted fault ``name``; whether it applies."""
        with self.lock:
            if self._left[name] > 0:
                self._left[name] -= 1
                return True
            return False

    def advance(self, months: int) -> int:
        with self.lock:
            return self.dashboard.advance(months)

    def state_json(self) -> dict[str, Any]:
        d = self.dashboard
        with self.lock:
            return {
                "districts": dict(d.districts),
                "program_year": d.program_year,
                "month": d.month,
                "month_end": month_end(d.program_year, d.month).isoformat(),
                "seed": d.seed,
                "requests": self.requests,
                "faults": attrs.asdict(self.faults),
                "faults_remaining": dict(self._left),
            }


class _Answer(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, sort_keys=True).encode(), "application/json")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, verb: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        try:
            if parts.path.lower() == "/export.aspx" and verb == "GET":
                self._export(urllib.parse.parse_qs(parts.query))
            elif parts.path == "/__admin/state" and verb == "GET":
                self._json(200, self.server.state.state_json())
            elif parts.path == "/__admin/faults" and verb == "POST":
                try:
                    faults = Faults.from_json(json.loads(self._body() or b"{}"))
                except ValueError as exc:
                    raise _Answer(400, f"faults: {exc}") from None
                self.server.state.set_faults(faults)
                self._json(200, self.server.state.state_json())
            elif parts.path == "/__admin/advance" and verb == "POST":
                try:
                    months = int(json.loads(self._body() or b"{}").get("months", 1))
                    self.server.state.advance(months)
                except (ValueError, AttributeError, TypeError) as exc:
                    raise _Answer(400, f"advance: {exc}") from None
                self._json(200, self.server.state.state_json())
            else:
                raise _Answer(404, f"no endpoint {verb} {parts.path}")
        except _Answer as answer:
            self._send(answer.status, f"{answer}\n".encode(), "text/plain; charset=utf-8")
        except Exception:
            log.exception("internal error answering %s %s", verb, parts.path)
            self._send(500, b"internal error\n", "text/plain; charset=utf-8")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _export(self, query: dict[str, list[str]]) -> None:
        state = self.server.state
        with state.lock:
            state.requests += 1
        if query.get("type", [""])[0].upper() != "CSV":
            raise _Answer(400, "type must be CSV")
        fields = query.get("report", [""])[0].split("~")
        if len(fields) != 5:
            raise _Answer(400, "report must be <report>~<district>~<month end>~<as of>~<year>")
        name, district, month_text, _as_of, year = fields
        report = _REPORT_KEYS.get(name.lower())
        dashboard = state.dashboard
        if report is None:
            raise _Answer(404, f"no report {name}")
        if district not in dashboard.districts:
            raise _Answer(404, f"no district {district}")
        if year not in (dashboard.program_year, dashboard.previous_year):
            raise _Answer(404, f"no program year {year}")
        month = None
        if month_text:
            month = _month_index(dashboard, year, month_text)
        faults = state.faults
        if faults.matches(report, district) and (
            faults.server_errors_always or state.take("server_errors")
        ):
            raise _Answer(500, "injected server error")
        options: dict[str, Any] = {"bom": state.bom}
        if faults.matches(report, district):
            if faults.missing_column:
                options["drop_column"] = faults.missing_column
            if faults.truncate_always or state.take("truncate"):
                options["truncate"] = True
            if faults.stale_days:
                from snapkit_toastmasters.generator import as_of

                current = as_of(
                    year,
                    month
                    if month is not None
                    else (dashboard.month if year == dashboard.program_year else 11),
                )
                options["as_of_date"] = current - dt.timedelta(days=faults.stale_days)
        with state.lock:
            body = render_report(dashboard, report, district, year=year, month=month, **options)
        self._send(200, body, "text/csv; charset=utf-8")


def _month_index(dashboard: Dashboard, year: str, text: str) -> int:
    try:
        m, d, y = (int(part) for part in text.split("/"))
        wanted = dt.date(y, m, d)
    except ValueError:
        raise _Answer(400, "the month end must be M/D/YYYY") from None
    last = dashboard.month if year == dashboard.program_year else 11
    for index in range(last + 1):
        if month_end(year, index) == wanted:
            return index
    raise _Answer(404, "no data for that month end")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: DashboardState) -> None:
        super().__init__(address, _Handler)
        self.state = state


class ServerHandle:
    """A running dashboard: its address and controls."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.state = server.state
        host = server.server_address[0]
        self.url = f"http://{host if isinstance(host, str) else host.decode()}:{server.server_port}"

    @property
    def base_url(self) -> str:
        """The dashboard's root (``base_url`` of ``[oracles.toastmasters]``)."""
        return self.url

    @property
    def dashboard(self) -> Dashboard:
        return self.state.dashboard

    @property
    def requests(self) -> int:
        """Exports requested so far."""
        with self.state.lock:
            return self.state.requests

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> None:
        """Replace the faults (``Faults(**changes)`` when none is given); counts restart."""
        self.state.set_faults(faults if faults is not None else Faults(**changes))

    def advance(self, months: int = 1) -> int:
        """Move the dashboard to a later month; returns the month index."""
        return self.state.advance(months)

    def serve_forever(self) -> None:
        """Block until closed (or interrupted)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def serve(
    dashboard: Dashboard | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Faults | None = None,
    bom: bool = True,
) -> ServerHandle:
    """Start a dashboard in a background thread (``port=0`` picks a free port).

    :param dashboard: what to serve (default: 3 districts of 150 clubs).
    :param bom: start each export with a byte order mark.
    """
    state = DashboardState(dashboard or Dashboard.generate(3, 150), faults, bom=bom)
    server = _Server((host, port), state)
    thread = threading.Thread(
        target=server.serve_forever, name="toastmasters-dashboard", daemon=True
    )
    thread.start()
    return ServerHandle(server, thread)
