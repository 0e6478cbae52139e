"""The search page's targets and form: presets only where their table or view exists."""

from __future__ import annotations

import attrs
import pytest

from snapkit.errors import UsageError
from snapkit.serve.pages_search import SearchForm, row_view, search_targets


@attrs.frozen
class Part:
    name: str


@attrs.frozen
class Manifest:
    parts: tuple[Part, ...]


def test_people_presets_appear_only_with_a_users_table_and_the_guardians_view() -> None:
    oneroster = search_targets(Manifest((Part("orgs"), Part("users"))), ["guardians"])
    assert [t.value for t in oneroster] == [
        "students",
        "teachers",
        "guardians",
        "table:orgs",
        "table:users",
        "view:guardians",
    ]
    plain = search_targets(Manifest((Part("products"),)), [])
    assert [t.value for t in plain] == ["table:products"]


def test_the_form_adds_the_presets_terms_to_what_was_typed() -> None:
    targets = search_targets(Manifest((Part("users"),)), ["guardians"])
    form = SearchForm.from_params({"in": "students", "q": " Garcia "}, targets)
    assert (form.table, form.query, form.submitted) == ("users", "role=student Garcia", True)
    assert SearchForm.from_params({"in": "students", "q": ""}, targets).query == "role=student"
    guardians = SearchForm.from_params(
        {"in": "guardians", "q": "familyName=Lee", "exact": "1"}, targets
    )
    assert (guardians.table, guardians.query, guardians.exact) == (
        "guardians",
        "familyName=Lee",
        True,
    )
    assert guardians.page(25) == "in=guardians&q=familyName%3DLee&exact=1&offset=25"
    assert not SearchForm.from_params({}, targets).submitted


@pytest.mark.parametrize(
    "params",
    [
        {"in": "table:nope", "q": "x"},
        {"in": "table:users", "q": ""},
        {"in": "table:users", "q": "x", "offset": "two"},
    ],
)
def test_unusable_forms_are_usage_errors(params: dict[str, str]) -> None:
    targets = search_targets(Manifest((Part("users"),)), [])
    with pytest.raises(UsageError):
        SearchForm.from_params(params, targets)


def test_a_row_shows_its_name_key_fields_and_children() -> None:
    row = {
        "sourcedId": "g1",
        "givenName": "Ana",
        "familyName": "Lee",
        "role": "guardian",
        "email": "ana@example.org",
        "agents": [{"sourcedId": "s1"}],
        "children": [{"givenName": "Bo", "familyName": "Lee", "grades": ["03"], "identifier": "7"}],
    }
    view = row_view(row)
    assert view["name"] == "Ana Lee"
    assert view["fields"][:2] == [("role", "guardian"), ("email", "ana@example.org")]
    assert view["children"] == [
        {"name": "Bo Lee", "facts": [("grades", "03"), ("identifier", "7")]}
    ]
    assert '"children"' not in view["json"] and '"agents"' in view["json"]
    product = row_view({"sku": "A-1", "price": 3.5, "tags": ["x"]})
    assert product["name"] == "A-1" and ("price", "3.5") in product["fields"]
