"""Google Analytics sessions (the design's c360viewGetGaTables): the BigQuery ``ga_sessions`` export as NDJSON.

One gzip file per day, ``raw/ga_sessions/ingest_date=YYYY-MM-DD/ga_sessions_YYYYMMDD.json.gz`` (as BigQuery's
export to Cloud Storage writes it with GZIP compression: sessions of about 12 kB of JSON compress 11x, which keeps
the raw zone of scale 100 at about 5 GB instead of 60), one session per line,
with exactly the field names, nesting, key order and null conventions of the real export (see
``reference-data/ga_sessions``): every key present, ``null`` rather than 0 in ``totals``, money in micros,
``fullVisitorId`` a string (some start with 0), ``visitId`` = ``visitStartTime``, ``date`` a ``YYYYMMDD`` string.

The property is the bank's website (``www.c360bank.example``) and its online banking (``secure.``): page paths
such as ``/personal/accounts/savings``, ``/cards/gold``, ``/loans/mortgage/apply`` or ``/investments/pension``,
grouped into content groups (1: section, 2: kind of page). Product pages send enhanced-ecommerce detail views;
applications are a checkout funnel (steps 1-2) and a purchase (``transactions``, revenue = the product's
estimated first-year value). Paid traffic carries utm campaigns (``gold_card_upgrade_2024_03``...) that promote
one product each, so campaign response can be measured. The home page shows internal promotions.

Who visits: the visitors of :mod:`ingestion.visitor_map` (after their link to a client was made) and anonymous
visitors who are in no map. A visitor is one browser: its device and place stay the same across sessions.

Differences from the public sample, on purpose: the view's time zone is UTC (the sample's is
America/Los_Angeles), so ``date`` is the UTC day of ``visitStartTime`` and ``hour``/``minute`` are UTC; and
``userId``/``clientId`` stay null as in the sample: identity comes from the visitor map only. Fields we do not
model carry the sample's placeholder "not available in demo dataset".

Speed: a session's visitor and start time come from one vectorized schedule of the whole history; a day's
attributes are drawn with numpy from that day's own random stream, and the JSON is assembled from pre-encoded
fragments with ``%`` templates (no per-hit dicts), so any day can be rendered alone, identical to the history.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from itertools import pairwise

import numpy as np

from c360.settings import Settings
from c360.storage import Lake
from ingestion.common import event_day, rng_for
from ingestion.crm import FUTURE_DAYS
from ingestion.visitor_map import Visitors, build_visitors, horizon_end

WWW = "www.c360bank.example"
SECURE = "secure.c360bank.example"
NA = "not available in demo dataset"
"""The placeholder the public GA sample uses for redacted fields; we keep it for the fields we do not model."""
NOT_SET = "(not set)"


def js(value: object) -> str:
    """Compact JSON text of a value (the pieces the hit and session templates are assembled from)."""
    return json.dumps(value, separators=(",", ":"))


# --- products ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Product:
    """A bank product as the website's enhanced ecommerce reports it."""

    sku: str
    name: str
    section: str  # contentGroup1 of its pages
    path: str  # its product detail page
    apply: str  # first page of its application funnel: a path, or a step below ``path``
    value_usd: int  # estimated first-year value, sent to GA as the "revenue" of a completed application

    @property
    def category(self) -> str:
        """v2ProductCategory, from the page path: ``/loans/mortgage/fixed-rate`` gives ``Home/Loans/Mortgage/``."""
        return "/".join(["Home", *(part.title() for part in self.path.split("/")[1:-1])]) + "/"

    @property
    def apply_path(self) -> str:
        return self.apply if self.apply.startswith("/") else f"{self.path}/{self.apply}"


PRODUCTS = tuple(
    Product(*row)
    for row in (
        ("BNK-ACC-CHK", "Everyday Checking", "Accounts", "/personal/accounts/checking", "open", 60),
        ("BNK-ACC-SAV", "High-Yield Savings", "Accounts", "/personal/accounts/savings", "open", 40),
        ("BNK-ACC-STU", "Student Account", "Accounts", "/personal/accounts/student", "open", 20),
        ("BNK-CRD-CLA", "Classic Card", "Cards", "/cards/classic", "apply", 45),
        ("BNK-CRD-GLD", "Gold Card", "Cards", "/cards/gold", "apply", 95),
        ("BNK-CRD-JUN", "Junior Card", "Cards", "/cards/junior", "apply", 10),
        ("BNK-LON-PER", "Personal Loan", "Loans", "/loans/personal", "apply", 250),
        ("BNK-LON-CAR", "Car Loan", "Loans", "/loans/car", "apply", 300),
        (
            "BNK-MTG-FIX",
            "Fixed-Rate Mortgage",
            "Mortgages",
            "/loans/mortgage/fixed-rate",
            "/loans/mortgage/apply",
            1200,
        ),
        (
            "BNK-MTG-VAR",
            "Variable-Rate Mortgage",
            "Mortgages",
            "/loans/mortgage/variable-rate",
            "/loans/mortgage/apply",
            1100,
        ),
        ("BNK-INV-FND", "Managed Funds", "Investments", "/investments/funds", "apply", 150),
        ("BNK-INV-PEN", "Pension Plan", "Investments", "/investments/pension", "apply", 180),
        ("BNK-INV-BRK", "Brokerage Account", "Investments", "/investments/brokerage", "open", 90),
        ("BNK-INS-HOM", "Home Insurance", "Insurance", "/insurance/home", "quote", 220),
        ("BNK-INS-TRV", "Travel Insurance", "Insurance", "/insurance/travel", "quote", 35),
    )
)
SKU_INDEX = {p.sku: i for i, p in enumerate(PRODUCTS)}
FUNNEL_STEPS = (("", "Apply"), ("/details", "Your Details"), ("/confirmation", "Application Received"))
"""Application funnel after the product page: start (checkout step 1), details (step 2), confirmation (purchase)."""

# --- pages --------------------------------------------------------------------------------------------------
SECTIONS = (
    "Home",
    "Accounts",
    "Cards",
    "Loans",
    "Mortgages",
    "Investments",
    "Insurance",
    "Online Banking",
    "Support",
    "About",
    "Offers",
)
"""contentGroup1: the part of the site. Also the "focus" of a session (what the visitor came for)."""
PRODUCT_SECTIONS = ("Accounts", "Cards", "Loans", "Mortgages", "Investments", "Insurance")
SITE_PAGES = (
    # path, title, section (contentGroup1), kind of page (contentGroup2)
    ("/home", "Personal Banking", "Home", "Home"),
    ("/offers", "Offers", "Offers", "Offers"),
    ("/personal/accounts", "Bank Accounts", "Accounts", "Category"),
    ("/cards/compare", "Compare Credit Cards", "Cards", "Category"),
    ("/loans", "Loans", "Loans", "Category"),
    ("/loans/calculator", "Loan Calculator", "Loans", "Calculator"),
    ("/loans/mortgage", "Mortgages", "Mortgages", "Category"),
    ("/loans/mortgage/rates", "Mortgage Rates", "Mortgages", "Rates"),
    ("/loans/mortgage/calculator", "Mortgage Calculator", "Mortgages", "Calculator"),
    ("/investments", "Investments", "Investments", "Category"),
    ("/investments/advice/book", "Book an Adviser", "Investments", "Advice"),
    ("/insurance", "Insurance", "Insurance", "Category"),
    ("/support/contact", "Contact Us", "Support", "Help"),
    ("/support/faq", "FAQ", "Support", "Help"),
    ("/support/branches", "Find a Branch", "Support", "Help"),
    ("/support/security", "Security Centre", "Support", "Help"),
    ("/about/news", "News", "About", "Company"),
    ("/about/careers", "Careers", "About", "Company"),
    ("/online-banking/login", "Log In", "Online Banking", "Login"),
    ("/online-banking/accounts/overview", "Accounts Overview", "Online Banking", "Account Servicing"),
    ("/online-banking/accounts/transactions", "Transactions", "Online Banking", "Account Servicing"),
    ("/online-banking/transfers/new", "New Transfer", "Online Banking", "Account Servicing"),
    ("/online-banking/payments/bills", "Pay Bills", "Online Banking", "Account Servicing"),
    ("/online-banking/statements", "Statements", "Online Banking", "Account Servicing"),
    ("/online-banking/cards/manage", "Manage Cards", "Online Banking", "Account Servicing"),
    ("/online-banking/profile/settings", "Profile Settings", "Online Banking", "Account Servicing"),
)


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    section: str  # contentGroup1
    kind: str  # contentGroup2: the type of page
    product: str = ""  # the SKU of a product detail page

    @property
    def host(self) -> str:
        return SECURE if self.path.startswith("/online-banking/") else WWW

    @property
    def listed(self) -> tuple[str, ...]:
        """The SKUs a category page shows (as product impressions): every product of its section."""
        return tuple(p.sku for p in PRODUCTS if p.section == self.section) if self.kind == "Category" else ()


def _site_pages() -> tuple[Page, ...]:
    """The site map: fixed pages, one page per product, and the application pages of every product."""
    pages = [Page(path, f"{title} | C360 Bank", section, kind) for path, title, section, kind in SITE_PAGES]
    pages += [Page(p.path, f"{p.name} | C360 Bank", p.section, "Product", p.sku) for p in PRODUCTS]
    for p in PRODUCTS:
        for suffix, title in FUNNEL_STEPS:
            page = Page(p.apply_path + suffix, f"{title} | {p.section} | C360 Bank", p.section, "Application")
            if page not in pages:  # the two mortgages share their application pages
                pages.append(page)
    return tuple(pages)


PAGES = _site_pages()
PAGE_INDEX = {p.path: i for i, p in enumerate(PAGES)}
HOME = PAGE_INDEX["/home"]
LOGIN = PAGE_INDEX["/online-banking/login"]
KINDS = tuple(sorted({p.kind for p in PAGES}))


def path_levels(path: str) -> tuple[str, str, str, str]:
    """GA's pagePathLevel1..4: each level keeps its slashes; level 4 rolls up everything deeper."""
    parts = [part for part in path.split("/") if part]
    levels = []
    for i in range(3):
        if i < len(parts):
            levels.append(f"/{parts[i]}/" if i < len(parts) - 1 else f"/{parts[i]}")
        else:
            levels.append("")
    levels.append("/" + "/".join(parts[3:]) if len(parts) > 3 else "")
    return levels[0], levels[1], levels[2], levels[3]


def _page_json(page: Page) -> str:
    levels = path_levels(page.path)
    return js(
        {
            "pagePath": page.path,
            "hostname": page.host,
            "pageTitle": page.title,
            "searchKeyword": None,
            "searchCategory": None,
            "pagePathLevel1": levels[0],
            "pagePathLevel2": levels[1],
            "pagePathLevel3": levels[2],
            "pagePathLevel4": levels[3],
        }
    )


def micros(usd: float) -> int:
    """GA money: US dollars times 10^6, as an integer."""
    return round(usd * 1_000_000)


def product_entry(product: Product, **overrides: object) -> dict[str, object]:
    """One ``hits.product`` record (all 19 keys of the export, in its order)."""
    entry: dict[str, object] = {
        "productSKU": product.sku,
        "v2ProductName": product.name,
        "v2ProductCategory": product.category,
        "productVariant": NOT_SET,
        "productBrand": "C360 Bank",
        "productRevenue": None,
        "localProductRevenue": None,
        "productPrice": micros(product.value_usd),
        "localProductPrice": micros(product.value_usd),
        "productQuantity": None,
        "productRefundAmount": None,
        "localProductRefundAmount": None,
        "isImpression": None,
        "isClick": None,
        "customDimensions": [],
        "customMetrics": [],
        "productListName": NOT_SET,
        "productListPosition": 0,
        "productCouponCode": None,
    }
    entry.update(overrides)
    return entry


def _page_products_json(page: Page) -> str:
    """Products on a page when it is simply viewed: impressions on a category page, a detail view on a
    product page, nothing elsewhere (application pages get theirs from the session's product)."""
    if page.listed:
        return js(
            [
                product_entry(
                    PRODUCTS[SKU_INDEX[sku]],
                    isImpression=True,
                    productListName=page.title.split(" |")[0],
                    productListPosition=position,
                )
                for position, sku in enumerate(page.listed, start=1)
            ]
        )
    if page.product:
        return js([product_entry(PRODUCTS[SKU_INDEX[page.product]], isClick=True)])
    return "[]"


def _page_action_json(page: Page) -> str:
    """eCommerceAction of a plain page view: product detail view (2) on product pages, unknown (0) elsewhere."""
    return js({"action_type": "2" if page.product else "0", "step": 1, "option": None})


def funnel_products_json(product: Product, step: int) -> str:
    """Products on application step ``step`` (1 start, 2 details, 3 confirmation) of ``product``."""
    if step == 3:
        revenue = micros(product.value_usd)
        return js(
            [product_entry(product, productQuantity=1, productRevenue=revenue, localProductRevenue=revenue)]
        )
    return js([product_entry(product, productQuantity=1)])


FUNNEL_ACTION_JSON = (
    None,
    js({"action_type": "5", "step": 1, "option": "Personal Details"}),
    js({"action_type": "5", "step": 2, "option": "Financial Details"}),
    js({"action_type": "6", "step": 1, "option": None}),
)
EMPTY_TRANSACTION_JSON = js(
    {
        "transactionId": None,
        "transactionRevenue": None,
        "transactionTax": None,
        "transactionShipping": None,
        "affiliation": None,
        "currencyCode": "USD",
        "localTransactionRevenue": None,
        "localTransactionTax": None,
        "localTransactionShipping": None,
        "transactionCoupon": None,
    }
)
EMPTY_ITEM_JSON = js(
    {
        "transactionId": None,
        "productName": None,
        "productCategory": None,
        "productSku": None,
        "itemQuantity": None,
        "itemRevenue": None,
        "currencyCode": "USD",
        "localItemRevenue": None,
    }
)


def transaction_json(transaction_id: str, product: Product) -> tuple[str, str]:
    """``hits.transaction`` and ``hits.item`` of a completed application."""
    revenue = micros(product.value_usd)
    transaction = js(
        {
            "transactionId": transaction_id,
            "transactionRevenue": revenue,
            "transactionTax": None,
            "transactionShipping": None,
            "affiliation": "C360 Bank Online",
            "currencyCode": "USD",
            "localTransactionRevenue": revenue,
            "localTransactionTax": None,
            "localTransactionShipping": None,
            "transactionCoupon": None,
        }
    )
    item = js(
        {
            "transactionId": transaction_id,
            "productName": product.name,
            "productCategory": product.category,
            "productSku": product.sku,
            "itemQuantity": 1,
            "itemRevenue": revenue,
            "currencyCode": "USD",
            "localItemRevenue": revenue,
        }
    )
    return transaction, item


# --- internal promotions and events -------------------------------------------------------------------------
PROMOTIONS = (
    ("promo_gold_card", "Gold Card", "home_gold_card.jpg", "Hero Banner"),
    ("promo_mortgage_rates", "Mortgage Rates", "home_mortgage_rates.jpg", "Row 2"),
    ("promo_savings_bonus", "High-Yield Savings", "home_savings_bonus.jpg", "Row 3"),
    ("promo_pension_plan", "Pension Plan", "offers_pension_plan.jpg", "Offers Grid 1"),
)


def _promotion(promo: tuple[str, str, str, str]) -> dict[str, str]:
    return dict(zip(("promoId", "promoName", "promoCreative", "promoPosition"), promo, strict=True))


PROMO_VIEW_JSON = js({"promoIsView": True, "promoIsClick": None})
PROMO_CLICK_JSON = js({"promoIsView": None, "promoIsClick": True})
SHOWN_PROMOTIONS = {"/home": PROMOTIONS[:3], "/offers": PROMOTIONS}


@dataclass(frozen=True)
class EventOption:
    """What an EVENT hit on a page can be: its eventInfo, and the promotion it clicks (if any)."""

    event_json: str
    promotion_json: str = "[]"
    promotion_action_json: str = "null"


def _event(category: str, action: str, label: str | None) -> str:
    return js({"eventCategory": category, "eventAction": action, "eventLabel": label, "eventValue": None})


def _event_options(page: Page) -> tuple[EventOption, ...]:
    if page.path in SHOWN_PROMOTIONS:
        clicks = [
            EventOption(
                _event("Internal Promotion", "Click", promo[1]), js([_promotion(promo)]), PROMO_CLICK_JSON
            )
            for promo in SHOWN_PROMOTIONS[page.path]
        ]
        return (*clicks, EventOption(_event("Chat", "Open", None)))
    by_kind = {
        "Category": (("Navigation", "Compare Products", page.section), ("Chat", "Open", None)),
        "Calculator": (("Calculator", "Calculate", page.section),),
        "Rates": (("Rates", "Filter Rate Table", page.section),),
        "Advice": (("Advice", "Appointment Slot Selected", None),),
        "Login": (("Online Banking", "Login Success", None), ("Online Banking", "Login Failed", None)),
        "Account Servicing": (
            ("Online Banking", "Transfer Submitted", None),
            ("Online Banking", "Bill Paid", None),
            ("Online Banking", "Download", "Statement PDF"),
        ),
        "Help": (("Support", "FAQ Expand", None), ("Chat", "Open", None)),
        "Company": (("Navigation", "Menu Click", page.section),),
        "Application": (("Application", "Field Error", None),),
    }
    if page.product:
        name = PRODUCTS[SKU_INDEX[page.product]].name
        return (
            EventOption(_event("Product", "Brochure Download", name)),
            EventOption(_event("Product", "Rate Check", name)),
        )
    return tuple(EventOption(_event(*option)) for option in by_kind[page.kind])


# --- per-page tables (numpy, indexed by page number) ---------------------------------------------------------
def _object_array(values: list[str] | tuple[str, ...]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


PAGE_JSON = _object_array([_page_json(p) for p in PAGES])
SCREEN_JSON = _object_array([js(p.host + p.path) for p in PAGES])
URL_JSON = _object_array([js(f"https://{p.host}{p.path}") for p in PAGES])
PAGE_PRODUCTS_JSON = _object_array([_page_products_json(p) for p in PAGES])
PAGE_ACTION_JSON = _object_array([_page_action_json(p) for p in PAGES])
PAGE_HAS_PRODUCTS = np.array([bool(p.listed or p.product) for p in PAGES])
PAGE_PROMOTIONS_JSON = _object_array(
    [js([_promotion(x) for x in SHOWN_PROMOTIONS.get(p.path, ())]) for p in PAGES]
)
PAGE_PROMO_ACTION_JSON = _object_array(
    [PROMO_VIEW_JSON if p.path in SHOWN_PROMOTIONS else "null" for p in PAGES]
)
PAGE_SECTION = np.array([SECTIONS.index(p.section) for p in PAGES])
PAGE_KIND = np.array([KINDS.index(p.kind) for p in PAGES])
_OPTIONS = [_event_options(p) for p in PAGES]
EVENT_COUNT = np.array([len(o) for o in _OPTIONS])
EVENT_FIRST = np.concatenate([[0], np.cumsum(EVENT_COUNT)[:-1]])
EVENT_JSON = _object_array([o.event_json for options in _OPTIONS for o in options])
EVENT_PROMOTION_JSON = _object_array([o.promotion_json for options in _OPTIONS for o in options])
EVENT_PROMO_ACTION_JSON = _object_array([o.promotion_action_json for options in _OPTIONS for o in options])
FUNNEL_PAGE = np.array(
    [
        [PAGE_INDEX[p.path]] + [PAGE_INDEX[p.apply_path + suffix] for suffix, _ in FUNNEL_STEPS]
        for p in PRODUCTS
    ]
)
"""FUNNEL_PAGE[product, k]: k = 0 product page, 1 application start, 2 details, 3 confirmation."""
FUNNEL_PRODUCTS_JSON = _object_array(
    [funnel_products_json(p, step) if step else "[]" for p in PRODUCTS for step in range(4)]
)
"""FUNNEL_PRODUCTS_JSON[product * 4 + k] for k = 1..3."""


def _padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged lists of numbers as a 2-D table padded with each row's first entry (0 for an empty row), and the
    row lengths (at least 1), for vectorized picks with :func:`_pick_rows`."""
    width = max(1, *(len(r) for r in rows))
    table = np.array([r + [r[0] if r else 0] * (width - len(r)) for r in rows], dtype=np.int64)
    return table, np.maximum([len(r) for r in rows], 1)


def _browse_rows() -> list[list[int]]:
    """For each session focus (a section), the pages a visitor wanders through. Application pages and the
    login page are reached only on purpose; the "Home" focus wanders through the general pages."""
    rows = []
    for section in SECTIONS:
        if section == "Home":
            rows.append([i for i, p in enumerate(PAGES) if p.kind in ("Home", "Category", "Offers", "Help")])
        else:
            excluded = ("Application", "Login")
            rows.append([i for i, p in enumerate(PAGES) if p.section == section and p.kind not in excluded])
    return rows


BROWSE, BROWSE_COUNT = _padded(_browse_rows())
GENERAL = BROWSE[SECTIONS.index("Home"), : BROWSE_COUNT[SECTIONS.index("Home")]]
SECTION_PRODUCT_TABLE, SECTION_PRODUCT_COUNT = _padded(
    [[i for i, p in enumerate(PRODUCTS) if p.section == section] for section in SECTIONS]
)


def _content_group_json(page: int, previous: int, unique1: bool, unique2: bool) -> str:
    """hits.contentGroup: group 1 is the section, group 2 the kind of page; ``previous`` -1 is the entrance."""
    current = PAGES[page]
    if previous < 0:
        prev1 = prev2 = "(entrance)"
    else:
        prev1, prev2 = PAGES[previous].section, PAGES[previous].kind
    return js(
        {
            "contentGroup1": current.section,
            "contentGroup2": current.kind,
            "contentGroup3": NOT_SET,
            "contentGroup4": NOT_SET,
            "contentGroup5": NOT_SET,
            "previousContentGroup1": prev1,
            "previousContentGroup2": prev2,
            "previousContentGroup3": "(entrance)" if previous < 0 else NOT_SET,
            "previousContentGroup4": "(entrance)" if previous < 0 else NOT_SET,
            "previousContentGroup5": "(entrance)" if previous < 0 else NOT_SET,
            "contentGroupUniqueViews1": 1 if unique1 else None,
            "contentGroupUniqueViews2": 1 if unique2 else None,
            "contentGroupUniqueViews3": None,
            "contentGroupUniqueViews4": None,
            "contentGroupUniqueViews5": None,
        }
    )


@cache
def content_group_json(code: int) -> str:
    """The contentGroup text of an interned code (see :func:`content_group_code`)."""
    unique2, rest = code % 2, code // 2
    unique1, rest = rest % 2, rest // 2
    previous, page = rest % (len(PAGES) + 1) - 1, rest // (len(PAGES) + 1)
    return _content_group_json(page, previous, bool(unique1), bool(unique2))


def content_group_code(
    page: np.ndarray, previous: np.ndarray, unique1: np.ndarray, unique2: np.ndarray
) -> np.ndarray:
    return ((page * (len(PAGES) + 1) + previous + 1) * 2 + unique1) * 2 + unique2


# --- campaigns ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theme:
    """A marketing campaign theme: what it promotes, where its ads land, what the paid search ads bid on."""

    name: str
    product: str
    landing: str
    keyword: str


THEMES = (
    Theme("gold_card_upgrade", "BNK-CRD-GLD", "/cards/gold", "gold credit card"),
    Theme("mortgage_rates", "BNK-MTG-FIX", "/loans/mortgage/rates", "best mortgage rates"),
    Theme("savings_bonus", "BNK-ACC-SAV", "/personal/accounts/savings", "high yield savings account"),
    Theme("pension_plan", "BNK-INV-PEN", "/investments/pension", "retirement pension plan"),
    Theme("car_loan", "BNK-LON-CAR", "/loans/car", "car loan rates"),
    Theme("student_account", "BNK-ACC-STU", "/personal/accounts/student", "student bank account"),
    Theme("travel_insurance", "BNK-INS-TRV", "/insurance/travel", "travel insurance"),
    Theme("managed_funds", "BNK-INV-FND", "/investments/funds", "managed investment funds"),
)

# --- traffic --------------------------------------------------------------------------------------------------
CHANNELS = ("Organic Search", "Direct", "Paid Search", "Referral", "Display", "Social", "Affiliates")
CHANNEL_P_KNOWN = (0.30, 0.45, 0.08, 0.05, 0.04, 0.05, 0.03)
"""Clients come back directly (bookmarks, typed URL) more than prospects do."""
CHANNEL_P_ANONYMOUS = (0.45, 0.18, 0.13, 0.08, 0.06, 0.06, 0.04)
PAID_CHANNELS = ("Paid Search", "Display", "Social", "Affiliates")


@dataclass(frozen=True)
class Source:
    """A traffic source of a channel (not counting the campaign): GA's source and medium, the page the visitor
    came from (``referer`` of the first hit), and the social network for social traffic."""

    channel: str
    source: str
    medium: str
    weight: float
    referer: str | None = None
    social_network: str | None = None

    @property
    def referral_path(self) -> str | None:
        """trafficSource.referralPath: the referring page's path, for referral traffic only."""
        if self.medium != "referral" or self.referer is None:
            return None
        return "/" + self.referer.split("/", 3)[3]


SOURCES = (
    Source("Organic Search", "google", "organic", 0.86, "https://www.google.com/"),
    Source("Organic Search", "bing", "organic", 0.09, "https://www.bing.com/"),
    Source("Organic Search", "duckduckgo.com", "organic", 0.03, "https://duckduckgo.com/"),
    Source("Organic Search", "yahoo", "organic", 0.02, "https://search.yahoo.com/"),
    Source("Direct", "(direct)", "(none)", 1.0),
    Source("Paid Search", "google", "cpc", 0.9, "https://www.google.com/"),
    Source("Paid Search", "bing", "cpc", 0.1, "https://www.bing.com/"),
    Source("Referral", "ratecompare.example", "referral", 0.4, "https://ratecompare.example/best-savings"),
    Source(
        "Referral", "moneyforum.example", "referral", 0.35, "https://moneyforum.example/threads/mortgages"
    ),
    Source("Referral", "citynews.example", "referral", 0.25, "https://citynews.example/business/local-banks"),
    Source("Display", "google", "cpm", 1.0, "https://googleads.g.doubleclick.net/"),
    Source("Social", "facebook.com", "social", 0.5, "https://www.facebook.com/", "Facebook"),
    Source("Social", "linkedin.com", "social", 0.2, "https://www.linkedin.com/", "LinkedIn"),
    Source("Social", "instagram.com", "social", 0.2, "https://www.instagram.com/", "Instagram"),
    Source("Social", "t.co", "social", 0.1, "https://t.co/", "Twitter"),
    Source("Affiliates", "cardcompare.example", "affiliate", 0.6, "https://cardcompare.example/"),
    Source("Affiliates", "loanfinder.example", "affiliate", 0.4, "https://loanfinder.example/"),
)
ALWAYS_ON_CAMPAIGN = {"Paid Search": "brand_always_on", "Display": "remarketing_always_on"}
"""The campaign name of paid traffic outside any themed campaign (Social and Affiliates have none)."""
BRAND_KEYWORD = "c360 bank"
ORGANIC_KEYWORDS = ("c360 bank", "c360 bank login", "c360 bank near me", "c360 bank routing number")
SOCIAL_NONE_JSON = js(
    {
        "socialInteractionNetwork": None,
        "socialInteractionAction": None,
        "socialInteractions": None,
        "socialInteractionTarget": None,
        "socialNetwork": NOT_SET,
        "uniqueSocialInteractions": None,
        "hasSocialSourceReferral": "No",
        "socialInteractionNetworkAction": " : ",
    }
)


def social_json(network: str | None) -> str:
    if network is None:
        return SOCIAL_NONE_JSON
    return SOCIAL_NONE_JSON.replace(js(NOT_SET), js(network)).replace('"No"', '"Yes"')


def source_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel, its sources: a padded table of source numbers, cumulative weights and counts."""
    width = max(sum(s.channel == c for s in SOURCES) for c in CHANNELS)
    index = np.zeros((len(CHANNELS), width), dtype=np.int64)
    cumulative = np.ones((len(CHANNELS), width))
    for row, channel in enumerate(CHANNELS):
        members = [i for i, s in enumerate(SOURCES) if s.channel == channel]
        weights = np.array([SOURCES[i].weight for i in members])
        index[row, : len(members)] = members
        cumulative[row, : len(members)] = np.cumsum(weights) / weights.sum()
    return index, cumulative, np.array([sum(s.channel == c for s in SOURCES) for c in CHANNELS])


# --- devices and places -------------------------------------------------------------------------------------
DEVICES = (
    ("desktop", "Windows", "Chrome", 0.24),
    ("desktop", "Windows", "Edge", 0.08),
    ("desktop", "Windows", "Firefox", 0.04),
    ("desktop", "Macintosh", "Safari", 0.09),
    ("desktop", "Macintosh", "Chrome", 0.06),
    ("desktop", "Linux", "Chrome", 0.02),
    ("desktop", "Chrome OS", "Chrome", 0.02),
    ("mobile", "iOS", "Safari", 0.17),
    ("mobile", "iOS", "Chrome", 0.04),
    ("mobile", "Android", "Chrome", 0.13),
    ("mobile", "Android", "Samsung Internet", 0.04),
    ("tablet", "iOS", "Safari", 0.05),
    ("tablet", "Android", "Chrome", 0.02),
)
DEVICE_P = np.array([d[3] for d in DEVICES]) / sum(d[3] for d in DEVICES)


def device_json(index: int) -> str:
    category, system, browser, _ = DEVICES[index]
    return js(
        {
            "browser": browser,
            "browserVersion": NA,
            "browserSize": NA,
            "operatingSystem": system,
            "operatingSystemVersion": NA,
            "isMobile": category != "desktop",
            "mobileDeviceBranding": NA,
            "mobileDeviceModel": NA,
            "mobileInputSelector": NA,
            "mobileDeviceInfo": NA,
            "mobileDeviceMarketingName": NA,
            "flashVersion": NA,
            "javaEnabled": None,
            "language": NA,
            "screenColors": NA,
            "screenResolution": NA,
            "deviceCategory": category,
        }
    )


DEVICE_JSON = _object_array([device_json(i) for i in range(len(DEVICES))])

_US = ("Americas", "Northern America", "United States")
GEOS = (
    # continent, subContinent, country, region, metro, city, sales region (customDimensions index 4), weight
    (*_US, "New York", "New York NY", "New York", "North America", 0.12),
    (*_US, "New Jersey", "New York NY", "Newark", "North America", 0.03),
    (*_US, "California", "Los Angeles CA", "Los Angeles", "North America", 0.08),
    (*_US, "California", "San Francisco-Oakland-San Jose CA", "San Francisco", "North America", 0.05),
    (*_US, "Illinois", "Chicago IL", "Chicago", "North America", 0.06),
    (*_US, "Texas", "Houston TX", "Houston", "North America", 0.05),
    (*_US, "Texas", "Dallas-Ft. Worth TX", "Dallas", "North America", 0.04),
    (*_US, "Texas", "Austin TX", "Austin", "North America", 0.02),
    (*_US, "Florida", "Miami-Ft. Lauderdale FL", "Miami", "North America", 0.04),
    (*_US, "Washington", "Seattle-Tacoma WA", "Seattle", "North America", 0.03),
    (*_US, "Massachusetts", "Boston MA-Manchester NH", "Boston", "North America", 0.03),
    (*_US, "Georgia", "Atlanta GA", "Atlanta", "North America", 0.03),
    (*_US, "Arizona", "Phoenix AZ", "Phoenix", "North America", 0.03),
    (*_US, "Colorado", "Denver CO", "Denver", "North America", 0.02),
    (*_US, "Pennsylvania", "Philadelphia PA", "Philadelphia", "North America", 0.03),
    (*_US, "Ohio", "Columbus OH", "Columbus", "North America", 0.02),
    (*_US, "North Carolina", "Charlotte NC", "Charlotte", "North America", 0.02),
    (*_US, "Michigan", "Detroit MI", "Detroit", "North America", 0.02),
    (*_US, "Minnesota", "Minneapolis-St. Paul MN", "Minneapolis", "North America", 0.02),
    (*_US, "Oregon", "Portland OR", "Portland", "North America", 0.02),
    (*_US, NOT_SET, NOT_SET, NOT_SET, "North America", 0.08),
    ("Americas", "Northern America", "Canada", "Ontario", NOT_SET, "Toronto", "North America", 0.02),
    ("Americas", "Central America", "Mexico", "Mexico City", NOT_SET, "Mexico City", "North America", 0.015),
    (
        "Americas",
        "South America",
        "Brazil",
        "State of Sao Paulo",
        NOT_SET,
        "Sao Paulo",
        "South America",
        0.01,
    ),
    ("Europe", "Northern Europe", "United Kingdom", "England", "London", "London", "EMEA", 0.015),
    ("Europe", "Western Europe", "Germany", "Berlin", NOT_SET, "Berlin", "EMEA", 0.01),
    ("Europe", "Western Europe", "France", "Ile-de-France", NOT_SET, "Paris", "EMEA", 0.008),
    ("Europe", "Southern Europe", "Spain", "Community of Madrid", NOT_SET, "Madrid", "EMEA", 0.006),
    ("Asia", "Southern Asia", "India", "Maharashtra", NOT_SET, "Mumbai", "APAC", 0.015),
    ("Asia", "Southeast Asia", "Philippines", "Metro Manila", NOT_SET, "Manila", "APAC", 0.008),
    ("Asia", "Eastern Asia", "Japan", "Tokyo", "JP_KANTO", "Tokyo", "APAC", 0.006),
    ("Oceania", "Australasia", "Australia", "New South Wales", NOT_SET, "Sydney", "APAC", 0.005),
)
GEO_DOMESTIC = np.array([g[2] == "United States" for g in GEOS])
NETWORK_DOMAINS = (
    "comcast.net",
    "verizon.net",
    "att.net",
    "rr.com",
    "cox.net",
    "sbcglobal.net",
    "charter.com",
    NOT_SET,
    "unknown.unknown",
)
NETWORK_DOMAIN_P = (0.16, 0.12, 0.1, 0.08, 0.05, 0.04, 0.05, 0.2, 0.2)


@cache
def geo_json(code: int) -> str:
    """geoNetwork of an interned ``geo * len(NETWORK_DOMAINS) + domain`` code."""
    geo, domain = divmod(code, len(NETWORK_DOMAINS))
    continent, sub, country, region, metro, city, _, _ = GEOS[geo]
    return js(
        {
            "continent": continent,
            "subContinent": sub,
            "country": country,
            "region": region,
            "metro": metro,
            "city": city,
            "cityId": NA,
            "networkDomain": NETWORK_DOMAINS[domain],
            "latitude": NA,
            "longitude": NA,
            "networkLocation": NA,
        }
    )


CUSTOM_DIMENSIONS_JSON = _object_array([js([{"index": 4, "value": g[6]}]) for g in GEOS])
EMPTY_ADWORDS_JSON = js(
    {
        "campaignId": None,
        "adGroupId": None,
        "creativeId": None,
        "criteriaId": None,
        "page": None,
        "slot": None,
        "criteriaParameters": NA,
        "gclId": None,
        "customerId": None,
        "adNetworkType": None,
        "targetingCriteria": None,
        "isVideoAd": None,
    }
)
ADS_CUSTOMER_ID = 4_815_162_342
HOUR_P = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5.5, 6, 5.8, 5.5, 5.2, 5, 5, 5.2, 5.5, 5.2, 4.2, 3, 1.8]
)
HOUR_P = HOUR_P / HOUR_P.sum()
"""When people bank online (hour of the day in the view's time zone): office hours and evenings."""


# =============================================================================================================
# The generator
# =============================================================================================================
SOURCE = "ga_sessions"
SESSIONS_PER_SCALE = 50_000
"""GA sessions over the history (HISTORY_DAYS up to the end date) per unit of scale."""
HISTORY_DAYS = 730
KNOWN_SESSION_SHARE = 0.6
"""Share of sessions from visitors of the visitor map; the rest come from anonymous visitors."""
ANONYMOUS_LIFETIME_DAYS = 60.0
"""Mean life of an anonymous visitor id (until the cookie is cleared or the device replaced)."""
SESSION_GAP_S = 1800
"""GA's session timeout: two sessions of one visitor start at least this far apart."""
CAMPAIGN_TAKE = 0.7
"""Share of paid-channel sessions that come from a themed campaign while one runs."""
FOCUS_P_KNOWN = (0.08, 0.05, 0.05, 0.04, 0.04, 0.04, 0.02, 0.55, 0.08, 0.01, 0.04)
FOCUS_P_ANONYMOUS = (0.18, 0.14, 0.14, 0.10, 0.12, 0.07, 0.05, 0.0, 0.10, 0.04, 0.06)
"""What a session is about (over SECTIONS): clients mostly log into online banking, prospects shop around."""
HOME_LANDING_P = (0.35, 0.6, 0.2, 0.3, 0.3, 0.3, 0.2)
"""Per channel, the share of non-campaign sessions that land on the home page rather than deep in the site."""
FUNNEL_P = {False: (0.40, 0.22, 0.6, 0.65), True: (0.55, 0.32, 0.6, 0.65)}
"""Per campaign flag: P(product page viewed), then P(next step | previous step) for application start, details
and confirmation. A campaign session that completes an application for the campaign's product is a response."""
BOUNCE_P = 0.42
ONLINE_BANKING_BOUNCE_P = 0.08
"""A client who logs in rarely leaves after the login page."""
MORE_HITS_P = 0.22
"""Hits after the first of a non-bounce session: geometric with this parameter (mean ~5.5 hits), at most 30."""
MAX_HITS = 30
EVENT_P = 0.15
IN_FOCUS_P = 0.7
"""Share of a session's page views within its focus section; the others are general pages (home, support...)."""
LATENCY_P = 0.04
EMPTY_CUSTOM_DIMENSIONS_P = 0.15
GCLID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


@dataclass(frozen=True)
class Campaigns:
    """Themed marketing campaigns, one starting each month, running 4-7 weeks (two overlap at times)."""

    theme: np.ndarray  # index into THEMES
    first_day: np.ndarray  # datetime64[D]
    end_day: np.ndarray  # datetime64[D], exclusive
    name: np.ndarray  # object: the utm campaign name
    campaign_id: np.ndarray  # int64, the Ads campaign id

    def active_on(self, day: date) -> np.ndarray:
        when = np.datetime64(day.isoformat(), "D")
        return np.flatnonzero((self.first_day <= when) & (when < self.end_day))


@dataclass(frozen=True)
class Schedule:
    """Every GA session of the simulation, sorted by start: whose (visitor number) and when, plus the few
    attributes that belong to the visitor rather than to the session (device, place)."""

    seed: int
    first_day: date
    last_day: date
    visitors: Visitors
    visitor: np.ndarray  # int64, index into visitors, per session
    start: np.ndarray  # int64 epoch seconds, sorted
    visit_number: np.ndarray  # int64
    device: np.ndarray  # per visitor: index into DEVICES
    geo: np.ndarray  # per visitor: geo * len(NETWORK_DOMAINS) + network domain
    campaigns: Campaigns


def _epoch(value: date | np.datetime64) -> int:
    return int(np.datetime64(value, "s").astype(np.int64))


def history_days(end_date: date) -> list[date]:
    """The days of GA history written by :func:`generate`: HISTORY_DAYS days up to and including the end date."""
    return [end_date - timedelta(days=offset) for offset in range(HISTORY_DAYS - 1, -1, -1)]


def build_campaigns(seed: int, first_day: date, last_day: date) -> Campaigns:
    """One campaign per month from two months before ``first_day`` to ``last_day``, the theme never the same
    twice in a row; names are utm-style, e.g. ``gold_card_upgrade_2024_03``."""
    rng = rng_for(seed, SOURCE, "campaigns")
    month = date(first_day.year, first_day.month, 1) - timedelta(days=62)
    month = date(month.year, month.month, 1)
    themes, starts, ends, names = [], [], [], []
    previous = -1
    while month <= last_day:
        theme = int(rng.integers(len(THEMES)))
        if theme == previous:
            theme = (theme + 1 + int(rng.integers(len(THEMES) - 1))) % len(THEMES)
        start = month + timedelta(days=int(rng.integers(0, 10)))
        themes.append(theme)
        starts.append(start)
        ends.append(start + timedelta(days=int(rng.integers(28, 50))))
        names.append(f"{THEMES[theme].name}_{month.year}_{month.month:02d}")
        previous = theme
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return Campaigns(
        theme=np.array(themes, dtype=np.int64),
        first_day=np.array(starts, dtype="datetime64[D]"),
        end_day=np.array(ends, dtype="datetime64[D]"),
        name=_object_array(names),
        campaign_id=9_000_000_000 + np.arange(len(themes), dtype=np.int64) * 7919,
    )


def _draw_times(
    rng: np.random.Generator,
    candidates: np.ndarray,
    window: tuple[np.ndarray, np.ndarray],
    weight: np.ndarray,
    period: tuple[int, int],
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sessions of ``candidates`` inside ``period``: a visitor is picked in proportion to its activity
    weight times the time it is active in the period, then a moment of its active time, at a usual hour."""
    lo = np.maximum(window[0], period[0])
    hi = np.minimum(window[1], period[1])
    overlap = np.clip(hi - lo, 0, None).astype(np.float64)
    mass = weight * overlap
    if n == 0 or mass.sum() <= 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    chosen = rng.choice(len(candidates), n, p=mass / mass.sum())
    moment = lo[chosen] + (rng.random(n) * overlap[chosen]).astype(np.int64)
    hour = rng.choice(24, n, p=HOUR_P)
    reshaped = moment // 86400 * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    return candidates[chosen], np.clip(reshaped, lo[chosen], hi[chosen])


def _spread(visitor: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort sessions by visitor and time and push each one at least SESSION_GAP_S after the visitor's previous
    one (a group-wise running maximum: start'[i] = max over earlier j of start[j] + gap * (i - j))."""
    order = np.lexsort((start, visitor))
    visitor, start = visitor[order], start[order]
    step = np.arange(len(start), dtype=np.int64) * SESSION_GAP_S
    shifted = start - step
    base = shifted.min() if len(shifted) else 0
    span = int(shifted.max() - base + 1) if len(shifted) else 1
    running = np.maximum.accumulate(visitor * span + (shifted - base))
    return visitor, running - visitor * span + base + step


def _visit_numbers(
    rng: np.random.Generator,
    visitor: np.ndarray,
    start: np.ndarray,
    first_seen: np.ndarray,
    history_start: int,
) -> np.ndarray:
    """GA's visitNumber: the rank of the session among the visitor's sessions, after the visits it made
    before the simulated history began (Poisson, at the visitor's own rate)."""
    n = len(visitor)
    group_start = (
        np.flatnonzero(np.concatenate([[True], visitor[1:] != visitor[:-1]])) if n else np.array([], int)
    )
    sizes = np.diff(np.concatenate([group_start, [n]]))
    rank = np.arange(n) - np.repeat(group_start, sizes)
    owners = visitor[group_start]
    active_s = np.maximum(
        start[group_start + sizes - 1] - np.maximum(first_seen[owners], history_start), 86400
    )
    before_s = np.clip(history_start - first_seen[owners], 0, None)
    prior = rng.poisson(np.minimum(sizes / active_s * before_s, 500.0))
    return rank + 1 + np.repeat(prior, sizes)


def _visitor_profiles(rng: np.random.Generator, visitors: Visitors) -> tuple[np.ndarray, np.ndarray]:
    """Device per visitor (a visitor id is one browser), and a place: the clients' devices share the
    client's place (mostly in the United States), anonymous visitors come from further afield."""
    n = len(visitors)
    device = rng.choice(len(DEVICES), n, p=DEVICE_P)
    weights = np.array([g[7] for g in GEOS])
    known_p = weights * np.where(GEO_DOMESTIC, 1.0, 0.2)
    anonymous_p = weights * np.where(GEO_DOMESTIC, 1.0, 1.2)
    client_geo = rng.choice(len(GEOS), int(visitors.client_id.max()) + 1, p=known_p / known_p.sum())
    anonymous_geo = rng.choice(len(GEOS), n, p=anonymous_p / anonymous_p.sum())
    geo = np.where(visitors.known, client_geo[visitors.client_id], anonymous_geo)
    domain = rng.choice(len(NETWORK_DOMAINS), n, p=NETWORK_DOMAIN_P)
    return device, geo * len(NETWORK_DOMAINS) + domain


def build_schedule(seed: int, scale: float, end_date: date) -> Schedule:
    """Every session of the history and of the days after it (up to FUTURE_DAYS), vectorized.

    SESSIONS_PER_SCALE x scale sessions fall in the history (and as many per day after it); KNOWN_SESSION_SHARE
    of them come from linked visitors, after the link was made; the rest from anonymous visitors while their
    id lives. Built in one pass so that any single day can be rendered consistently with the others.
    """
    visitors = build_visitors(seed, scale, end_date)
    rng = rng_for(seed, SOURCE, "schedule")
    first_day = end_date - timedelta(days=HISTORY_DAYS - 1)
    history = (_epoch(first_day), _epoch(end_date) + 86400 - 1)
    last = _epoch(horizon_end(end_date))
    future = (history[1] + 1, last)
    known = np.flatnonzero(visitors.known)
    anonymous = np.flatnonzero(~visitors.known)
    first_seen = np.zeros(len(visitors), dtype=np.int64)
    first_seen[known] = visitors.linked_at[known].astype(np.int64)
    first_seen[anonymous] = rng.integers(history[0] - 30 * 86400, last, len(anonymous))
    last_seen = np.full(len(visitors), last, dtype=np.int64)
    lifetime = rng.exponential(ANONYMOUS_LIFETIME_DAYS * 86400, len(anonymous)).astype(np.int64)
    last_seen[anonymous] = np.minimum(first_seen[anonymous] + lifetime, last)
    activity = rng.lognormal(0.0, 0.8, len(visitors))
    in_history = max(0, round(SESSIONS_PER_SCALE * scale))
    per_period = {history: in_history, future: round(in_history * FUTURE_DAYS / HISTORY_DAYS)}
    drawn_visitors, drawn_starts = [], []
    for period, total in per_period.items():
        known_n = round(total * KNOWN_SESSION_SHARE)
        for group, n in ((known, known_n), (anonymous, total - known_n)):
            window = (first_seen[group], last_seen[group])
            who, when = _draw_times(rng, group, window, activity[group], period, n)
            drawn_visitors.append(who)
            drawn_starts.append(when)
    visitor, start = _spread(np.concatenate(drawn_visitors), np.concatenate(drawn_starts))
    keep = start <= last
    visitor, start = visitor[keep], start[keep]
    visit_number = _visit_numbers(rng, visitor, start, first_seen, history[0])
    order = np.lexsort((visitor, start))
    device, geo = _visitor_profiles(rng_for(seed, SOURCE, "profiles"), visitors)
    return Schedule(
        seed=seed,
        first_day=first_day,
        last_day=end_date + timedelta(days=FUTURE_DAYS),
        visitors=visitors,
        visitor=visitor[order],
        start=start[order],
        visit_number=visit_number[order],
        device=device,
        geo=geo,
        campaigns=build_campaigns(seed, first_day, end_date + timedelta(days=FUTURE_DAYS)),
    )


# --- one day: sessions ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DaySessions:
    """The sessions of one day, one entry per session (numpy arrays)."""

    visitor: np.ndarray
    start: np.ndarray
    visit_number: np.ndarray
    channel: np.ndarray  # index into CHANNELS
    source: np.ndarray  # index into SOURCES
    campaign: np.ndarray  # index into the schedule's campaigns, -1 for none
    theme: np.ndarray  # index into THEMES of that campaign, -1 for none
    focus: np.ndarray  # index into SECTIONS
    product: np.ndarray  # index into PRODUCTS, -1 for none
    depth: np.ndarray  # 0 none, 1 product page, 2 application started, 3 details, 4 completed
    hits: np.ndarray  # number of hits
    landing: np.ndarray  # page of the first hit


def _pick_rows(rng: np.random.Generator, table: np.ndarray, count: np.ndarray, row: np.ndarray) -> np.ndarray:
    """For each ``row``, a uniformly chosen entry among the first ``count[row]`` entries of ``table[row]``."""
    return table[row, (rng.random(len(row)) * count[row]).astype(np.int64)]


def _draw_traffic(rng: np.random.Generator, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channel and source of each session: clients come back directly more often than prospects do."""
    n = len(known)
    channel = np.where(
        known,
        rng.choice(len(CHANNELS), n, p=np.array(CHANNEL_P_KNOWN) / sum(CHANNEL_P_KNOWN)),
        rng.choice(len(CHANNELS), n, p=np.array(CHANNEL_P_ANONYMOUS) / sum(CHANNEL_P_ANONYMOUS)),
    )
    source_index, source_cumulative, source_count = SOURCE_TABLE
    position = (rng.random(n)[:, None] > source_cumulative[channel]).sum(axis=1)
    return channel, source_index[channel, np.minimum(position, source_count[channel] - 1)]


def _draw_campaign(rng: np.random.Generator, channel: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The themed campaign (index into the schedule's campaigns) of each paid-channel session that comes from
    one of the campaigns running that day; -1 for the others."""
    n = len(channel)
    if len(active) == 0:
        return np.full(n, -1, dtype=np.int64)
    paid = np.isin(channel, [CHANNELS.index(c) for c in PAID_CHANNELS])
    takes = paid & (rng.random(n) < CAMPAIGN_TAKE)
    return np.where(takes, active[rng.integers(0, len(active), n)], -1)


def _draw_interest(
    rng: np.random.Generator, known: np.ndarray, theme: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each session is about (a section), the product it looks at (-1 for none) and how far down that
    product's application funnel it goes. A campaign session is about the campaign's product."""
    n = len(known)
    focus = np.where(
        known,
        rng.choice(len(SECTIONS), n, p=FOCUS_P_KNOWN),
        rng.choice(len(SECTIONS), n, p=FOCUS_P_ANONYMOUS),
    )
    themed = theme >= 0
    focus = np.where(themed, THEME_SECTION[np.maximum(theme, 0)], focus)
    in_products = np.isin(focus, [SECTIONS.index(s) for s in PRODUCT_SECTIONS])
    product = np.where(in_products, _pick_rows(rng, SECTION_PRODUCT_TABLE, SECTION_PRODUCT_COUNT, focus), -1)
    product = np.where(themed, THEME_PRODUCT[np.maximum(theme, 0)], product)
    return focus, product, _draw_depth(rng, themed) * (product >= 0)


def _draw_sessions(rng: np.random.Generator, schedule: Schedule, lo: int, hi: int, day: date) -> DaySessions:
    """The attributes of the day's sessions ``lo:hi`` of the schedule."""
    visitor = schedule.visitor[lo:hi]
    n = len(visitor)
    known = schedule.visitors.client_id[visitor] > 0
    channel, source = _draw_traffic(rng, known)
    campaign = _draw_campaign(rng, channel, schedule.campaigns.active_on(day))
    theme = np.where(campaign >= 0, schedule.campaigns.theme[np.maximum(campaign, 0)], -1)
    focus, product, depth = _draw_interest(rng, known, theme)
    online_banking = focus == SECTIONS.index("Online Banking")
    bounce = rng.random(n) < np.where(online_banking, ONLINE_BANKING_BOUNCE_P, BOUNCE_P)
    hits = np.where(bounce, 1, 1 + rng.geometric(MORE_HITS_P, n))
    hits = np.minimum(np.maximum(hits, depth), MAX_HITS)
    home = rng.random(n) < np.array(HOME_LANDING_P)[channel]
    landing = np.where(home, HOME, _pick_rows(rng, BROWSE, BROWSE_COUNT, focus))
    landing = np.where(online_banking, LOGIN, landing)
    landing = np.where(theme >= 0, THEME_LANDING[np.maximum(theme, 0)], landing)
    return DaySessions(
        visitor=visitor,
        start=schedule.start[lo:hi],
        visit_number=schedule.visit_number[lo:hi],
        channel=channel,
        source=source,
        campaign=campaign,
        theme=theme,
        focus=focus,
        product=product,
        depth=depth,
        hits=hits,
        landing=landing,
    )


def _draw_depth(rng: np.random.Generator, campaign: np.ndarray) -> np.ndarray:
    """How far down the product funnel each session goes (0-4), campaign sessions further than others."""
    depth = np.zeros(len(campaign), dtype=np.int64)
    still = np.ones(len(campaign), dtype=bool)
    for step in range(4):
        p = np.where(campaign, FUNNEL_P[True][step], FUNNEL_P[False][step])
        still &= rng.random(len(campaign)) < p
        depth += still
    return depth


# --- one day: hits --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayHits:
    """The hits of one day's sessions, flattened in session order (numpy arrays, one entry per hit)."""

    session: np.ndarray
    number: np.ndarray  # hitNumber, from 1
    page: np.ndarray
    previous: np.ndarray  # page of the previous hit, -1 on the first
    event: np.ndarray  # bool: EVENT (else PAGE)
    option: np.ndarray  # index into EVENT_JSON for events
    step: np.ndarray  # funnel step 0-3 on application pages (1-3), else 0
    time_ms: np.ndarray
    first: np.ndarray  # index of each session's first hit


def _draw_hits(rng: np.random.Generator, sessions: DaySessions) -> DayHits:
    """The hits of the day's sessions: the landing page, then pages of the session's focus (or anywhere), the
    product funnel at the end of the session, events on the page viewed last, time gaps of seconds to minutes."""
    counts = sessions.hits
    total = int(counts.sum())
    session = np.repeat(np.arange(len(counts)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    position = np.arange(total) - first[session]
    from_end = counts[session] - 1 - position
    wander = np.where(
        rng.random(total) < IN_FOCUS_P,
        _pick_rows(rng, BROWSE, BROWSE_COUNT, sessions.focus[session]),
        GENERAL[rng.integers(0, len(GENERAL), total)],
    )
    page = np.where(position == 0, sessions.landing[session], wander)
    depth = sessions.depth[session]
    in_funnel = from_end < depth
    funnel_k = np.clip(depth - 1 - from_end, 0, 3)
    page = np.where(in_funnel, FUNNEL_PAGE[np.maximum(sessions.product[session], 0), funnel_k], page)
    event = (position > 0) & ~in_funnel & (rng.random(total) < EVENT_P)
    last_view = np.maximum.accumulate(np.where(event, 0, np.arange(total)))
    page = page[last_view]  # an event happens on the page viewed last
    previous = np.where(position == 0, -1, np.roll(page, 1))
    option = EVENT_FIRST[page] + (rng.random(total) * EVENT_COUNT[page]).astype(np.int64)
    gap = np.where(event, 1000 + rng.exponential(6000, total), 1000 + rng.exponential(35000, total))
    elapsed = np.cumsum(np.where(position == 0, 0, gap.astype(np.int64)))
    return DayHits(
        session=session,
        number=position + 1,
        page=page,
        previous=previous,
        event=event,
        option=option,
        step=np.where(in_funnel, funnel_k, 0),
        time_ms=elapsed - elapsed[first[session]],
        first=first,
    )


# --- one day: JSON --------------------------------------------------------------------------------------------
def _intern(codes: np.ndarray, build: Callable[[int], str]) -> np.ndarray:
    """The texts of integer ``codes`` as an object array, building each distinct text once."""
    unique, inverse = np.unique(codes, return_inverse=True)
    texts = _object_array([build(int(code)) for code in unique])
    return texts[inverse.reshape(-1)]


def _nullable(values: np.ndarray, present: np.ndarray) -> list[str]:
    """JSON texts of integers, ``null`` where not ``present`` (GA writes null rather than 0)."""
    return np.where(present, values.astype(str), "null").tolist()


_EXCEPTION_INFO = js({"description": None, "isFatal": True, "exceptions": None, "fatalExceptions": None})
_APP_INFO_HEAD = js(
    {
        k: None
        for k in ("name", "version", "id", "installerId", "appInstallerId", "appName", "appVersion", "appId")
    }
)[:-1]
HIT_TEMPLATE = (
    '{"hitNumber":%d,"time":%d,"hour":%d,"minute":%d,"isSecure":null,"isInteraction":true,'
    '"isEntrance":%s,"isExit":%s,"referer":%s,"page":%s,"transaction":%s,"item":%s,"contentInfo":null,'
    '"appInfo":' + _APP_INFO_HEAD + ',"screenName":%s,"landingScreenName":%s,"exitScreenName":%s,'
    '"screenDepth":"0"},"exceptionInfo":' + _EXCEPTION_INFO + ',"eventInfo":%s,"product":%s,"promotion":%s,'
    '"promotionActionInfo":%s,"refund":null,"eCommerceAction":%s,"experiment":[],"publisher":null,'
    '"customVariables":[],"customDimensions":[],"customMetrics":[],"type":"%s","social":%s,"latencyTracking":%s,'
    '"sourcePropertyInfo":null,"contentGroup":%s,"dataSource":"web","publisher_infos":[]}'
)
SESSION_TEMPLATE = (
    '{"visitorId":null,"visitNumber":%d,"visitId":%d,"visitStartTime":%d,"date":"%s",'
    '"totals":{"visits":1,"hits":%d,"pageviews":%d,"timeOnSite":%s,"bounces":%s,"transactions":%s,'
    '"transactionRevenue":%s,"newVisits":%s,"screenviews":null,"uniqueScreenviews":null,"timeOnScreen":null,'
    '"totalTransactionRevenue":%s,"sessionQualityDim":%d},'
    '"trafficSource":{"referralPath":%s,"campaign":%s,"source":%s,"medium":%s,"keyword":%s,"adContent":%s,'
    '"adwordsClickInfo":%s,"isTrueDirect":%s,"campaignCode":null},'
    '"device":%s,"geoNetwork":%s,"customDimensions":%s,"hits":[%s],"fullVisitorId":"%s","userId":null,'
    '"clientId":null,"channelGrouping":"%s","socialEngagementType":"Not Socially Engaged"}'
)
LATENCY_TEMPLATE = (
    '{"pageLoadSample":1,"pageLoadTime":%d,"pageDownloadTime":%d,"redirectionTime":null,"speedMetricsSample":1,'
    '"domainLookupTime":%d,"serverConnectionTime":%d,"serverResponseTime":%d,"domLatencyMetricsSample":1,'
    '"domInteractiveTime":%d,"domContentLoadedTime":%d,"userTimingValue":null,"userTimingSample":null,'
    '"userTimingVariable":null,"userTimingCategory":null,"userTimingLabel":null}'
)


def _latency(rng: np.random.Generator, sampled: np.ndarray) -> np.ndarray:
    """latencyTracking for the page views GA samples for site speed, ``null`` for the others."""
    texts = np.full(len(sampled), "null", dtype=object)
    k = int(sampled.sum())
    if k:
        interactive = rng.integers(600, 6000, k)
        values = np.column_stack(
            [
                interactive + rng.integers(200, 3000, k),
                rng.integers(1, 400, k),
                rng.integers(0, 250, k),
                rng.integers(0, 250, k),
                rng.integers(40, 600, k),
                interactive,
                interactive + rng.integers(0, 80, k),
            ]
        )
        texts[sampled] = [LATENCY_TEMPLATE % tuple(row) for row in values.tolist()]
    return texts


def _content_groups(h: DayHits) -> np.ndarray:
    """hits.contentGroup texts: the current and previous page's groups, and the unique-view flags (1 on the
    session's first page view of a group value)."""
    unique = [np.zeros(len(h.page), dtype=np.int64), np.zeros(len(h.page), dtype=np.int64)]
    views = np.flatnonzero(~h.event)
    for flags, group in zip(unique, (PAGE_SECTION, PAGE_KIND), strict=True):
        _, first_seen = np.unique(h.session[views] * 64 + group[h.page[views]], return_index=True)
        flags[views[first_seen]] = 1
    return _intern(content_group_code(h.page, h.previous, *unique), content_group_json)


def _commerce(s: DaySessions, h: DayHits, day: date) -> tuple[np.ndarray, ...]:
    """hits.product, eCommerceAction, transaction and item texts: impressions and detail views from the
    page, the application funnel from the session's product; a completed application is a transaction."""
    view, funnel = ~h.event, h.step > 0
    product_code = np.maximum(s.product[h.session], 0) * 4 + h.step
    products = np.where(funnel, FUNNEL_PRODUCTS_JSON[product_code], PAGE_PRODUCTS_JSON[h.page])
    products = np.where(view, products, "[]")
    actions = np.where(funnel, FUNNEL_ACTION_ARRAY[h.step], PAGE_ACTION_JSON[h.page])
    actions = np.where(view, actions, PAGE_ACTION_JSON[HOME])
    has_products = view & (funnel | PAGE_HAS_PRODUCTS[h.page])
    transaction = np.where(has_products, EMPTY_TRANSACTION_JSON, "null").astype(object)
    item = np.where(has_products, EMPTY_ITEM_JSON, "null").astype(object)
    for i in np.flatnonzero(h.step == 3):
        session = int(h.session[i])
        transaction[i], item[i] = transaction_json(
            f"APP-{day:%Y%m%d}-{session:05d}", PRODUCTS[s.product[session]]
        )
    return products, actions, transaction, item


def _hit_texts(rng: np.random.Generator, s: DaySessions, h: DayHits, day: date) -> list[str]:
    """The JSON text of every hit (in order), from the hit and session arrays."""
    session_of = h.session
    last = np.concatenate([h.first[1:], [len(h.page)]]) - 1
    clock = s.start[session_of] + h.time_ms // 1000
    view = ~h.event
    products, actions, transaction, item = _commerce(s, h, day)
    referer = np.where(view, URL_JSON[np.maximum(h.previous, 0)], "null")
    referer = np.where(h.number == 1, SOURCE_REFERER_JSON[s.source[session_of]], referer)
    columns = [
        h.number.tolist(),
        h.time_ms.tolist(),
        (clock // 3600 % 24).tolist(),
        (clock // 60 % 60).tolist(),
        np.where(h.number == 1, "true", "null").tolist(),
        np.where(np.arange(len(h.page)) == last[session_of], "true", "null").tolist(),
        referer.tolist(),
        PAGE_JSON[h.page].tolist(),
        transaction.tolist(),
        item.tolist(),
        SCREEN_JSON[h.page].tolist(),
        SCREEN_JSON[h.page[h.first]][session_of].tolist(),
        SCREEN_JSON[h.page[last]][session_of].tolist(),
        np.where(h.event, EVENT_JSON[h.option], "null").tolist(),
        products.tolist(),
        np.where(h.event, EVENT_PROMOTION_JSON[h.option], PAGE_PROMOTIONS_JSON[h.page]).tolist(),
        np.where(h.event, EVENT_PROMO_ACTION_JSON[h.option], PAGE_PROMO_ACTION_JSON[h.page]).tolist(),
        actions.tolist(),
        np.where(h.event, "EVENT", "PAGE").tolist(),
        SOURCE_SOCIAL_JSON[s.source[session_of]].tolist(),
        _latency(rng, view & (rng.random(len(h.page)) < LATENCY_P)).tolist(),
        _content_groups(h).tolist(),
    ]
    return [HIT_TEMPLATE % row for row in zip(*columns, strict=True)]


def _traffic_columns(rng: np.random.Generator, schedule: Schedule, s: DaySessions) -> list[list[object]]:
    """trafficSource per session: referralPath, campaign, source, medium, keyword, adContent, adwordsClickInfo,
    isTrueDirect (as JSON texts)."""
    n = len(s.visitor)
    channel_name = np.array(CHANNELS)[s.channel]
    campaigns = schedule.campaigns
    themed = s.campaign >= 0
    always_on = np.array([ALWAYS_ON_CAMPAIGN.get(c, NOT_SET) for c in CHANNELS], dtype=object)[s.channel]
    name = np.where(themed, campaigns.name[np.maximum(s.campaign, 0)], always_on)
    paid_search = channel_name == "Paid Search"
    organic = channel_name == "Organic Search"
    keyword = np.full(n, "null", dtype=object)
    keyword[organic] = np.where(
        rng.random(int(organic.sum())) < 0.9,
        js("(not provided)"),
        ORGANIC_KEYWORD_JSON[rng.integers(0, len(ORGANIC_KEYWORD_JSON), int(organic.sum()))],
    )
    keyword[paid_search] = np.where(themed, THEME_KEYWORD_JSON[np.maximum(s.theme, 0)], js(BRAND_KEYWORD))[
        paid_search
    ]
    display = channel_name == "Display"
    ad_content = np.full(n, "null", dtype=object)
    ad_content[display] = [js(f"{c}_300x250") for c in name[display]]
    adwords = np.full(n, EMPTY_ADWORDS_JSON, dtype=object)
    google_ads = paid_search & (np.array([src.source for src in SOURCES])[s.source] == "google")
    k = int(google_ads.sum())
    if k:
        campaign_id = np.where(themed, campaigns.campaign_id[np.maximum(s.campaign, 0)], 8_999_999_999)[
            google_ads
        ]
        gclid = ["".join(chars) for chars in GCLID_ALPHABET[rng.integers(0, 64, (k, 40))].tolist()]
        slots = np.where(rng.random(k) < 0.8, "Top", "RHS")
        criteria = rng.integers(10**9, 10**10, k)
        adwords[google_ads] = [
            js(
                {
                    "campaignId": int(c),
                    "adGroupId": int(c) + 11,
                    "creativeId": int(c) + 23,
                    "criteriaId": int(cr),
                    "page": 1,
                    "slot": str(slot),
                    "criteriaParameters": NA,
                    "gclId": g,
                    "customerId": ADS_CUSTOMER_ID,
                    "adNetworkType": "Google Search",
                    "targetingCriteria": None,
                    "isVideoAd": False,
                }
            )
            for c, cr, slot, g in zip(campaign_id, criteria, slots, gclid, strict=True)
        ]
    direct = channel_name == "Direct"
    true_direct = direct | (organic & (s.visit_number > 1) & (rng.random(n) < 0.2))
    return [
        SOURCE_REFERRAL_PATH_JSON[s.source].tolist(),
        [js(c) for c in name.tolist()],
        SOURCE_SOURCE_JSON[s.source].tolist(),
        SOURCE_MEDIUM_JSON[s.source].tolist(),
        keyword.tolist(),
        ad_content.tolist(),
        adwords.tolist(),
        np.where(true_direct, "true", "null").tolist(),
    ]


def render_day(schedule: Schedule, day: date) -> tuple[bytes, int]:
    """The NDJSON bytes of ``day``'s ga_sessions table and its number of sessions (one line per session)."""
    if not schedule.first_day <= day <= schedule.last_day:
        raise ValueError(
            f"GA history covers {schedule.first_day} to {schedule.last_day}; {day} is outside it "
            "(move C360_END_DATE to simulate other days)"
        )
    lo, hi = np.searchsorted(schedule.start, [_epoch(day), _epoch(day) + 86400])
    if hi == lo:
        return b"", 0
    rng = rng_for(schedule.seed, SOURCE, "day", day.isoformat())
    s = _draw_sessions(rng, schedule, int(lo), int(hi), day)
    h = _draw_hits(rng, s)
    hit_texts = _hit_texts(rng, s, h, day)
    bounds = np.concatenate([h.first, [len(h.page)]]).tolist()
    hits_json = [",".join(hit_texts[a:b]) for a, b in pairwise(bounds)]
    page_views = np.bincount(h.session, weights=~h.event, minlength=len(s.visitor)).astype(np.int64)
    time_on_site = h.time_ms[np.array(bounds[1:]) - 1] // 1000
    completed = s.depth == 4
    revenue = np.where(completed, PRODUCT_MICROS[np.maximum(s.product, 0)], 0)
    quality = np.clip(1 + 3 * (s.hits - 1) + 18 * s.depth + rng.integers(0, 6, len(s.hits)), 1, 100)
    visitors = schedule.visitors
    columns = [
        s.visit_number.tolist(),
        s.start.tolist(),
        s.start.tolist(),
        [f"{day:%Y%m%d}"] * len(s.hits),
        s.hits.tolist(),
        page_views.tolist(),
        _nullable(time_on_site, s.hits > 1),
        np.where(s.hits == 1, "1", "null").tolist(),
        np.where(completed, "1", "null").tolist(),
        _nullable(revenue, completed),
        np.where(s.visit_number == 1, "1", "null").tolist(),
        _nullable(revenue, completed),
        quality.tolist(),
        *_traffic_columns(rng, schedule, s),
        DEVICE_JSON[schedule.device[s.visitor]].tolist(),
        _intern(schedule.geo[s.visitor], geo_json).tolist(),
        np.where(
            rng.random(len(s.hits)) < EMPTY_CUSTOM_DIMENSIONS_P,
            "[]",
            CUSTOM_DIMENSIONS_JSON[schedule.geo[s.visitor] // len(NETWORK_DOMAINS)],
        ).tolist(),
        hits_json,
        visitors.visitor_id[s.visitor].tolist(),
        np.array(CHANNELS)[s.channel].tolist(),
    ]
    lines = [SESSION_TEMPLATE % row for row in zip(*columns, strict=True)]
    return ("\n".join(lines) + "\n").encode("ascii"), len(lines)


# --- derived lookup tables ------------------------------------------------------------------------------------
SOURCE_TABLE = source_table()
SOURCE_REFERER_JSON = _object_array([js(src.referer) for src in SOURCES])
SOURCE_REFERRAL_PATH_JSON = _object_array([js(src.referral_path) for src in SOURCES])
SOURCE_SOURCE_JSON = _object_array([js(src.source) for src in SOURCES])
SOURCE_MEDIUM_JSON = _object_array([js(src.medium) for src in SOURCES])
SOURCE_SOCIAL_JSON = _object_array([social_json(src.social_network) for src in SOURCES])
THEME_SECTION = np.array([SECTIONS.index(PRODUCTS[SKU_INDEX[t.product]].section) for t in THEMES])
THEME_PRODUCT = np.array([SKU_INDEX[t.product] for t in THEMES])
THEME_LANDING = np.array([PAGE_INDEX[t.landing] for t in THEMES])
THEME_KEYWORD_JSON = _object_array([js(t.keyword) for t in THEMES])
ORGANIC_KEYWORD_JSON = _object_array([js(k) for k in ORGANIC_KEYWORDS])
FUNNEL_ACTION_ARRAY = _object_array(["null", *FUNNEL_ACTION_JSON[1:]])
PRODUCT_MICROS = np.array([micros(p.value_usd) for p in PRODUCTS], dtype=np.int64)


# --- files and entry points -----------------------------------------------------------------------------------
GZIP_LEVEL = 1
"""zlib's fastest level: 11x smaller at about 1.8 s of CPU per scale unit (level 6: 23x at 4 s)."""


WRITES_AHEAD = 2
"""Days rendered ahead of their compression and write. A thread compresses and writes a day while the next one is
rendered: zlib and the file write release the GIL, so the two overlap on two cores (a third of the time goes to
compression). Bounded, so that memory holds a few days' text at any scale."""


def raw_uri(lake: Lake, day: date) -> str:
    return lake.uri("raw", SOURCE, f"ingest_date={day.isoformat()}", f"ga_sessions_{day:%Y%m%d}.json.gz")


def write_raw(lake: Lake, day: date, lines: bytes) -> str:
    """Land ``day``'s NDJSON ``lines`` gzip-compressed (no timestamp in the header: same lines, same bytes)."""
    uri = raw_uri(lake, day)
    lake.write_bytes(uri, gzip.compress(lines, compresslevel=GZIP_LEVEL, mtime=0))
    return uri


def write_day(lake: Lake, schedule: Schedule, day: date) -> tuple[str, int]:
    """Write ``day``'s file (an empty file when nobody visited) and return ``(uri, sessions)``."""
    data, sessions = render_day(schedule, day)
    return write_raw(lake, day, data), sessions


def generate(settings: Settings, lake: Lake) -> list[tuple[str, int]]:
    """Write the GA export of every day of the history (HISTORY_DAYS up to the end date), one file per day.

    Returns ``(uri, sessions)`` per file. Same seed, scale and end date: byte-identical files. A thread compresses
    and writes each day while the next is rendered (``WRITES_AHEAD``); a failed write stops the generation.
    """
    schedule = build_schedule(settings.seed, settings.scale, settings.end_date)
    written: list[tuple[Future[str], int]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="c360-ga-write") as pool:
        for day in history_days(settings.end_date):
            data, sessions = render_day(schedule, day)
            if len(written) >= WRITES_AHEAD:
                written[-WRITES_AHEAD][0].result()  # at most WRITES_AHEAD days wait for their write
            written.append((pool.submit(write_raw, lake, day, data), sessions))
    return [(future.result(), sessions) for future, sessions in written]


def generate_day(settings: Settings, lake: Lake, day: date) -> list[tuple[str, int]]:
    """Write one day's file, identical to the one :func:`generate` writes for that day."""
    schedule = build_schedule(settings.seed, settings.scale, settings.end_date)
    return [write_day(lake, schedule, day)]


def c360view_get_ga_tables(event: dict, context: object) -> dict:
    """c360viewGetGaTables: on an EventBridge schedule, land the GA export of the event's day in the raw zone."""
    settings = Settings()
    [(uri, sessions)] = generate_day(settings, Lake(settings.lake), event_day(event))
    return {"source": SOURCE, "uri": uri, "records": sessions}
