"""Each column's role in a proposal: from what the data holds (``synthgate_agent.measure``'s
facts), else from its type and name alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthgate_shared.fidelity import TEXT_DATE_FORMATS
from synthgate_shared.orm import Column, OrmModel, Table
from synthgate_shared.types import INTEGER_RANGES, PortableType

from synthgate_agent.measure import TOP_K, ColumnFacts, TableFacts

# Column-name stems of text columns better filled by a Mimesis provider than from the source,
# and whether the kind is personal (never proposed as categories, whatever the data holds).
KNOWN_KINDS: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (("first_name", "firstname", "given_name", "forename"), "generic.person.first_name", True),
    (("last_name", "lastname", "surname", "family_name"), "generic.person.last_name", True),
    (("full_name", "fullname", "person_name", "customer_name", "contact_name"),
     "generic.person.full_name", True),
    (("email", "e_mail", "email_address", "mail"), "generic.person.email", True),
    (("phone", "phone_number", "telephone", "mobile", "fax", "tel"), "generic.person.telephone",
     True),
    (("username", "user_name", "login", "nickname"), "generic.person.username", True),
    (("password", "passwd"), "generic.person.password", True),
    (("address", "address1", "address2", "street", "street_address", "address_line1",
      "address_line2"), "generic.address.address", True),
    (("ip", "ip_address", "ipv4"), "generic.internet.ip_v4", True),
    (("city", "town"), "generic.address.city", False),
    (("postcode", "post_code", "postal_code", "zip", "zipcode", "zip_code"),
     "generic.address.postal_code", False),
    (("country",), "generic.address.country", False),
    (("state", "province", "county"), "generic.address.state", False),
    (("region",), "generic.address.region", False),
    (("continent",), "generic.address.continent", False),
    (("url", "website", "homepage", "web_site", "link"), "generic.internet.url", False),
    (("company", "company_name", "organisation", "organization", "employer"),
     "generic.finance.company", False),
    (("occupation", "job", "job_title", "profession"), "generic.person.occupation", False),
    (("nationality",), "generic.person.nationality", False),
)
# Providers for text whose values (not its name) show the kind, by pattern of measure.PATTERNS.
VALUE_KINDS: dict[str, str] = {"email": "generic.person.email", "url": "generic.internet.url"}
# Roles from the measured facts: a column is categorical when it has at most MAX_CATEGORIES
# values and those with >= min-count rows cover a share of its rows (the rest never
# appears: at most 1 - that share of TVD); text holds numbers or dates when PARSE_SHARE
# of its values parse; VALUE_SHARE of values matching a pattern picks a provider.
MAX_CATEGORIES = 50
CATEGORY_SHARE = 0.5  # plain text: the alternative, placeholder text, matches no value at all
KIND_CATEGORY_SHARE = 0.8  # a known kind (city, country...): its Mimesis provider is the other
NUMBER_CATEGORY_SHARE = 0.9  # numbers keep their quantiles (and correlations) unless nearly all
PARSE_SHARE = 0.99
VALUE_SHARE = 0.9
_CODE_NAME = re.compile(r"(^|_)(type|code|status|kind|category|class|flag|level|grade)$")


@dataclass(frozen=True)
class Col:
    """A column with the role the proposal gives it."""

    column: Column
    role: str  # category, number, temporal, text, known, number_text, date_text
    provider: str | None = None
    note: str | None = None  # the measured facts that decided the role (a config comment)
    places: int | None = None  # number_text: decimal places to render
    width: int | None = None  # number_text: zero-padded to this many characters
    pattern: str | None = None  # date_text, number_text: which of measure.PATTERNS match
    values: int | None = None  # category: the measured number of distinct values

    @property
    def name(self) -> str:
        return self.column.name



def known_kind(column_name: str) -> tuple[str, bool] | None:
    name = column_name.lower()
    for stems, provider, personal in KNOWN_KINDS:
        for stem in stems:
            if name == stem or name.endswith("_" + stem):
                return provider, personal
    return None


def known_provider(column_name: str) -> str | None:
    """The Mimesis provider for a column whose name names a known kind of value, else None."""
    kind = known_kind(column_name)
    return kind[0] if kind else None


def looks_personal(column_name: str) -> bool:
    """Whether a column's name names a personal kind of value (names, e-mails, phones...)."""
    kind = known_kind(column_name)
    return bool(kind and kind[1]) or "birth" in column_name.lower()


def role_of(table: Table, column: Column, model: OrmModel, skip: set[str],
          facts: TableFacts | None = None) -> Col | None:
    """Decide how a column is proposed: from the measured ``facts`` when there are some
    (see ``measured_role``), else from its type and name alone."""
    if column.name in skip or column.autoincrement or (facts and column.name in facts.opaque):
        return None
    ptype: PortableType = column.portable
    if ptype.is_array:
        return None
    base = ptype.base
    name = column.name.lower()
    if base in ("boolean", "enum"):
        return Col(column, "category")
    measured = facts.columns.get(column.name) if facts else None
    if measured is not None and facts is not None:
        return measured_role(column, measured, facts)
    if base in ("char", "varchar", "text"):
        provider = known_provider(name)
        if provider:
            return Col(column, "known", provider)
        if ptype.length is not None and ptype.length <= 12:
            return Col(column, "category")
        return Col(column, "text")
    if base in INTEGER_RANGES and _CODE_NAME.search(name):
        return Col(column, "category")
    if base in ("smallint", "integer", "bigint", "real", "double", "numeric"):
        return Col(column, "number")
    if base in ("date", "timestamp", "timestamptz"):
        return Col(column, "temporal")
    return None  # time, interval, uuid, json, bytea, tsvector: the builder's defaults


def unique_known(table: Table, column: Column, facts: TableFacts | None) -> Col | None:
    """A unique text column (not a key) of a known kind, by name or by measured values."""
    if column.name in table.primary_key or column.portable.base not in ("char", "varchar",
                                                                         "text") \
            or any(column.name in fk.columns for fk in table.foreign_keys):
        return None
    provider = known_provider(column.name)
    if provider:
        return Col(column, "known", provider)
    measured = facts.columns.get(column.name) if facts else None
    for pattern, provider in VALUE_KINDS.items():
        if measured is not None and measured.shares.get(pattern, 0.0) >= VALUE_SHARE:
            return Col(column, "known", provider, note=f"unique; "
                        f"{_pct(measured.shares[pattern])} of the values match {pattern}")
    return None


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%" if share < 0.995 or share == 1 else f"{100 * share:.1f}%"


def _category_note(f: ColumnFacts, min_count: int) -> str:
    if f.frequent == f.distinct:
        return f"{f.distinct} distinct value(s), all >= {min_count} rows"
    return (f"{f.distinct} distinct values, {f.frequent} with >= {min_count} rows cover "
            f"{_pct(f.frequent_share or 0.0)} of the rows (the rarer ones never appear)")


def measured_role(column: Column, f: ColumnFacts, facts: TableFacts) -> Col | None:
    """The role the measured facts give a column: categories for few frequent values of
    any text or number type, numbers or dates kept in text as quantiles, a Mimesis
    provider for a known kind (by name, or by values such as e-mail addresses), and
    length-matched text for the rest."""
    base = column.portable.base
    sample = (f" (a sample of {facts.measured:,} of {facts.rows:,} rows)" if facts.sampled
              else "")
    if f.nonnull == 0:
        return Col(column, "empty", note="every value is NULL" + sample)
    kind = known_kind(column.name)
    personal = bool(kind and kind[1])
    text = base in ("char", "varchar", "text")
    number = base in (*INTEGER_RANGES, "real", "double", "numeric")
    share = NUMBER_CATEGORY_SHARE if number else KIND_CATEGORY_SHARE if kind else CATEGORY_SHARE
    if text and f.max_length == 0:  # only empty strings: nothing personal to keep out
        return Col(column, "category", note="every non-NULL value is the empty string" + sample)
    if ((text or number) and not personal and f.distinct is not None
            and f.distinct <= MAX_CATEGORIES and f.frequent
            and (f.frequent_share or 0.0) >= share):
        return Col(column, "category", note=_category_note(f, facts.min_count) + sample,
                    values=f.distinct)
    if number:
        return Col(column, "number")
    if not text:
        return Col(column, "temporal")
    if kind:
        return Col(column, "known", kind[0], note=f"known kind by name; {f.distinct} distinct "
                    f"value(s), {_pct(1 - f.nonnull / max(facts.measured, 1))} NULL" + sample)
    return _text_role(column, f, sample)


def _text_role(column: Column, f: ColumnFacts, sample: str) -> Col:
    """The role of a text column by what its values look like: e-mail addresses or URLs,
    numbers, zero-padded codes or dates kept in text, else free text."""
    for pattern, provider in VALUE_KINDS.items():
        if f.shares.get(pattern, 0.0) >= VALUE_SHARE:
            return Col(column, "known", provider, note=f"{_pct(f.shares[pattern])} of the "
                        f"values look like {'e-mail addresses' if pattern == 'email' else 'URLs'}"
                        + sample)
    if f.shares.get("number", 0.0) >= PARSE_SHARE:
        places = f.places or 0
        what = "integers" if not places else f"numbers with up to {places} decimal places"
        return Col(column, "number_text", places=places, note=f"text holding {what}: "
                    f"{_pct(f.shares['number'])} of the values parse" + sample)
    if f.shares.get("digits", 0.0) >= PARSE_SHARE and f.max_length and \
            f.min_length == f.max_length:
        return Col(column, "number_text", places=0, width=f.max_length, pattern="digits",
                   note=f"text holding {f.max_length}-digit codes with leading zeros: "
                        f"{_pct(f.shares['digits'])} of the values are digits only, all "
                        f"{f.max_length} long; drawn as numbers, zero-padded" + sample)
    for pattern in TEXT_DATE_FORMATS:
        if f.shares.get(pattern, 0.0) >= PARSE_SHARE:
            return Col(column, "date_text", pattern=pattern, note=f"text holding dates "
                        f"({TEXT_DATE_FORMATS[pattern]}): {_pct(f.shares[pattern])} of the values "
                        "parse" + sample)
    return Col(column, "text", note=f"free text: {f.distinct} distinct values, "
                f"{_pct(f.top_share or 0.0)} of the rows hold the {TOP_K} commonest" + sample
                if f.top_share is not None else f"free text: {f.distinct} distinct values"
                + sample)
