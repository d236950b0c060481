"""Retail orders of the bank's retail arm (the design's "Shopping history" source), as the SaaS app exports them.

The file has exactly the shape of the public AWS "SaaS Sales" sample (``reference-data/saas_sales``): UTF-8 with
a BOM, CRLF line endings, comma-separated without any quoting, the header ``Row ID,Order ID,Order Date,...,
Profit``, ``Order Date`` as unpadded ``M/D/YYYY``, ``Date Key`` as ``YYYYMMDD``, one row per order line.
The value pools and their weights (countries with their region and subregion, cities, industries, segments,
products, unit prices, discount levels, quantities, lines per order, seasonality) were read from that sample
and are written out below, so nothing here reads reference data at run time.

What is ours:

- ``Customer ID`` is a bank ``client_id``: CUSTOMER_SHARE of the CRM clients run a business that buys from the
  retail arm. ``Customer`` is that business's name (one name per ID), with one industry and one segment.
- ``Contact Name`` is the client (the CRM's name) in at least half of the orders, otherwise a colleague at the
  same business.
- Orders start only after the client's ``created_at`` and cover RETAIL_HISTORY_DAYS up to the end date.
- ``Row ID`` runs 1, 2, 3... over the whole history (each daily file continues where the previous stopped),
  ``License`` is a unique 10-character code per row, ``Order ID`` is ``<Region>-<year>-<6 digits>`` with a
  number unique per order (up to 900,000 orders, about scale 180).
- ``Date Key`` always agrees with ``Order Date`` (the real sample has 26 rows where it does not).

Extracts follow the CRM's convention: a file extracted at day D 00:00 (``ingest_date=D``) holds the orders placed
before D that no earlier file held. :func:`generate` writes the full export at the end date (every order up to
the day before it); :func:`generate_day` and the Lambda write the orders of the day before their day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from c360.settings import Settings
from c360.storage import Lake
from ingestion.common import batch_stamp, event_day, rng_for, start_of_day
from ingestion.crm import FUTURE_DAYS, build_population

SOURCE = "retail_orders"
LINES_PER_SCALE = 10_000
"""Order lines over the history (RETAIL_HISTORY_DAYS up to the end date) per unit of scale."""
RETAIL_HISTORY_DAYS = 4 * 365 + 1
CUSTOMER_SHARE = 0.05
"""Share of the bank's clients that are retail customers."""
YEARLY_GROWTH = 1.18
"""Sales grow by this factor a year (2021-2024 in the sample: 1,993, 2,102, 2,580, 3,319 lines)."""
PRIMARY_CONTACT_P = 0.5
"""Share of orders placed by the client in person, the others by a colleague at the same business (all of them
when the business has no other contact)."""
HOME_LOCATION_P = 0.85
"""Share of orders shipped to the contact's own city (the others anywhere, as in the sample)."""
HEADER = (
    "Row ID",
    "Order ID",
    "Order Date",
    "Date Key",
    "Contact Name",
    "Country",
    "City",
    "Region",
    "Subregion",
    "Customer",
    "Customer ID",
    "Industry",
    "Segment",
    "Product",
    "License",
    "Sales",
    "Quantity",
    "Discount",
    "Profit",
)
BOM = "\ufeff"
NEWLINE = "\r\n"
LICENSE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LICENSE_SPACE = 36**10
LICENSE_MULTIPLIER = 2_259_563_436_219_791
"""Coprime with 36^10 (odd, not a multiple of 3) and near 0.618 x 36^10, so ``row * multiplier + offset`` modulo
36^10 gives every row its own, scattered-looking license code."""
ORDER_MULTIPLIER = 556_237
"""Coprime with 900,000 (not a multiple of 2, 3 or 5), so order numbers are a permutation of 100000..999999."""

# --- value pools, with the weights observed in the SaaS Sales sample ------------------------------------------
COUNTRIES = (
    # country, region, subregion, order lines, main cities, lines per city
    ("United States", "AMER", "NAMER", 2001, ("New York City", "Los Angeles", "Seattle", "Chicago", "Newark"),
     (740, 510, 170, 42, 28)),
    ("United Kingdom", "EMEA", "UKIR", 1141, ("London", "Liverpool", "Leeds", "Birmingham", "Manchester"),
     (922, 36, 28, 26, 25)),
    ("Japan", "APJ", "JAPN", 985, ("Tokyo", "Aichi", "Osaka", "Chiba", "Saitama"), (405, 162, 80, 53, 47)),
    ("France", "EMEA", "EU-WEST", 587, ("Paris", "Lyon", "Nice", "Nantes", "Marseille"), (537, 23, 17, 5, 5)),
    ("Canada", "AMER", "NAMER", 506, ("Toronto", "Montreal", "Vancouver", "Calgary", "Ottawa"), (431, 24, 21, 8, 6)),
    ("Australia", "APJ", "ANZ", 492, ("Sydney", "Melbourne", "Brisbane", "Wollongong", "Adelaide"),
     (314, 84, 21, 18, 14)),
    ("Mexico", "AMER", "LATAM", 469, ("Mexico City", "Tijuana", "Guadalajara", "Toluca", "Monterrey"),
     (193, 76, 69, 36, 35)),
    ("Germany", "EMEA", "EU-WEST", 383, ("Berlin", "Hamburg", "Cologne", "Frankfurt", "Munich"), (75, 71, 46, 35, 29)),
    ("Brazil", "AMER", "LATAM", 255, ("São Paulo", "Rio de Janeiro", "Brasília", "Salvador", "Belo Horizonte"),
     (133, 50, 28, 19, 16)),
    ("Sweden", "EMEA", "NOR", 249, ("Stockholm", "Gothenburg", "Malmö", "Uppsala"), (130, 75, 23, 21)),
    ("Chile", "AMER", "LATAM", 224, ("Santiago", "Puente Alto", "Antofagasta"), (145, 43, 36)),
    ("Spain", "EMEA", "EU-WEST", 224, ("Madrid", "Barcelona", "Valencia", "Seville", "Murcia"), (55, 44, 35, 28, 27)),
    ("Finland", "EMEA", "NOR", 184, ("Helsinki", "Espoo", "Tampere", "Vantaa"), (99, 41, 24, 20)),
    ("South Africa", "EMEA", "MEA", 183, ("Johannesburg", "Cape Town"), (112, 71)),
    ("Russia", "EMEA", "EU-EAST", 182, ("Moscow", "St Petersburg", "Yekaterinburg", "Novosibirsk"), (101, 58, 8, 8)),
    ("India", "APJ", "IND", 149, ("Delhi", "Mumbai", "Chennai", "Bangalore", "Hyderabad"), (49, 45, 20, 15, 12)),
    ("South Korea", "APJ", "APAC", 135, ("Seoul", "Incheon", "Busan", "Daegu", "Gwangju"), (44, 32, 25, 21, 13)),
    ("Argentina", "AMER", "LATAM", 130, ("Buenos Aires", "Mendoza", "Rosario", "Córdoba"), (51, 30, 25, 24)),
    ("Ireland", "EMEA", "UKIR", 126, ("Dublin", "Cork", "Limerick"), (100, 18, 8)),
    ("Belgium", "EMEA", "EU-WEST", 124, ("Brussels", "Antwerp", "Ghent"), (84, 36, 4)),
    ("Italy", "EMEA", "EU", 110, ("Milan", "Naples", "Rome", "Turin", "Bari"), (45, 10, 9, 9, 9)),
    ("China", "APJ", "APAC", 105, ("Beijing", "Shenzhen", "Guangzhou", "Shanghai"), (43, 29, 15, 13)),
    ("Philippines", "APJ", "APAC", 96, ("Manila", "Quezon City", "Davao City"), (48, 39, 9)),
    ("Luxembourg", "EMEA", "EU-WEST", 89, ("Luxembourg",), (89,)),
    ("Saudi Arabia", "EMEA", "MEA", 82, ("Jeddah", "Dhahran", "Riyadh"), (29, 27, 26)),
    ("Poland", "EMEA", "EU-WEST", 66, ("Warsaw", "Krakow"), (46, 20)),
    ("Singapore", "APJ", "APAC", 66, ("Singapore",), (66,)),
    ("Portugal", "EMEA", "EU-WEST", 61, ("Lisboa", "Porto"), (40, 21)),
    ("United Arab Emirates", "EMEA", "MEA", 60, ("Abu Dhabi", "Dubai"), (38, 22)),
    ("Norway", "EMEA", "NOR", 56, ("Oslo", "Hordaland"), (51, 5)),
    ("Turkey", "EMEA", "MEA", 53, ("Istanbul", "Ankara", "Izmir", "Bursa"), (21, 15, 12, 5)),
    ("Ukraine", "EMEA", "EU-EAST", 53, ("Kyiv", "Donetsk", "Odessa", "Kharkiv"), (34, 9, 7, 3)),
    ("Netherlands", "EMEA", "EU-WEST", 45, ("The Hague", "Amsterdam", "Rotterdam"), (21, 21, 3)),
    ("Colombia", "AMER", "LATAM", 42, ("Bogotá", "Medellín", "Cali"), (22, 18, 2)),
    ("Czech Republic", "EMEA", "EU-EAST", 42, ("Prague", "Brno", "Ostrava"), (27, 9, 6)),
    ("Israel", "EMEA", "EU-EAST", 39, ("Tel Aviv", "Jerusalem"), (29, 10)),
    ("Costa Rica", "AMER", "LATAM", 38, ("San José",), (38,)),
    ("New Zealand", "APJ", "ANZ", 37, ("Auckland", "Wellington"), (22, 15)),
    ("Greece", "EMEA", "EU-EAST", 27, ("Athens", "Thessaloniki"), (20, 7)),
    ("Indonesia", "APJ", "APAC", 24, ("Jakarta", "Surabaya", "Bandung"), (12, 7, 5)),
    ("Taiwan", "APJ", "APAC", 21, ("Taipei",), (21,)),
    ("Croatia", "EMEA", "EU-WEST", 12, ("Zagreb",), (12,)),
    ("Egypt", "EMEA", "MEA", 11, ("Cairo",), (11,)),
    ("Austria", "EMEA", "EU-WEST", 10, ("Vienna",), (10,)),
    ("Denmark", "EMEA", "EU-WEST", 8, ("Copenhagen",), (8,)),
    ("Qatar", "EMEA", "MEA", 7, ("Doha",), (7,)),
    ("Iceland", "EMEA", "EU-WEST", 4, ("Reykjavík",), (4,)),
    ("Slovenia", "EMEA", "EU-WEST", 1, ("Ljubljana",), (1,)),
)  # fmt: skip
PRODUCTS = (
    # product, order lines, median list price, log-sd of the price, highest list price, {discount: lines}
    ("ContactMatcher", 1842, 15.01, 1.63, 1889.99,
     {"0": 409, "0.2": 644, "0.3": 54, "0.4": 75, "0.45": 11, "0.5": 36, "0.7": 380, "0.8": 233}),
    ("Support", 1560, 6.68, 0.88, 1637.53, {"0": 974, "0.2": 586}),
    ("FinanceHub", 981, 76.98, 1.76, 700.98, {"0": 372, "0.1": 76, "0.2": 375, "0.3": 158}),
    ("SaaS Connector Pack", 957, 17.67, 1.08, 209.84, {"0": 571, "0.2": 248, "0.6": 138}),
    ("Site Analytics", 889, 88.95, 1.19, 649.83, {"0": 311, "0.2": 469, "0.4": 109}),
    ("Marketing Suite - Gold", 846, 38.94, 1.08, 647.89, {"0": 530, "0.2": 316}),
    ("ChatBot Plugin", 796, 4.28, 0.97, 173.91, {"0": 498, "0.2": 298}),
    ("Data Smasher", 775, 33.99, 0.93, 421.95, {"0": 471, "0.2": 304}),
    ("OneView", 466, 40.98, 1.25, 363.25, {"0": 271, "0.1": 16, "0.2": 112, "0.8": 67}),
    ("SaaS Connector Pack - Gold", 254, 10.94, 1.10, 162.93, {"0": 152, "0.2": 102}),
    ("Marketing Suite", 228, 130.98, 0.61, 880.98,
     {"0": 60, "0.15": 52, "0.2": 46, "0.3": 10, "0.32": 27, "0.5": 18, "0.7": 15}),
    ("Storage", 217, 3.29, 0.50, 11.48, {"0": 128, "0.2": 89}),
    ("Big Ol Database", 115, 379.99, 1.44, 7546.16, {"0": 29, "0.1": 2, "0.2": 31, "0.3": 5, "0.4": 13, "0.5": 12, "0.7": 23}),
    ("Alchemy", 68, 549.99, 0.33, 3499.99, {"0": 22, "0.2": 37, "0.4": 9}),
)  # fmt: skip
PROFIT_MARGIN = {
    # discount: (median profit / sales, spread) in the sample; deep discounts sell at a loss
    "0": (0.340, 0.135), "0.1": (0.167, 0.090), "0.15": (0.047, 0.078), "0.2": (0.175, 0.172),
    "0.3": (-0.086, 0.107), "0.32": (-0.176, 0.099), "0.4": (-0.233, 0.168), "0.45": (-0.436, 0.082),
    "0.5": (-0.600, 0.203), "0.6": (-0.650, 0.288), "0.7": (-0.733, 0.208), "0.8": (-1.650, 0.400),
}  # fmt: skip
INDUSTRIES = ("Finance", "Energy", "Tech", "Manufacturing", "Retail", "Healthcare", "Consumer Products",
              "Communications", "Transportation", "Misc")  # fmt: skip
INDUSTRY_P = np.array([20, 14, 13, 11, 11, 10, 9, 5, 4, 2]) / 99
SEGMENTS = ("SMB", "Strategic", "Enterprise")
SEGMENT_P = np.array([52, 29, 18]) / 99
MONTH_WEIGHT = np.array([387, 298, 683, 663, 750, 709, 708, 710, 1386, 817, 1462, 1421], dtype=np.float64)
QUANTITY_P = np.array([899, 2402, 2409, 1191, 1230, 572, 606, 257, 258, 57, 34, 23, 27, 29]) / 9994
"""Quantity 1..14 per order line."""
LINES_PER_ORDER_P = np.array([2538, 1220, 603, 336, 158, 70, 51, 16, 10, 3, 2, 1, 0, 1]) / 5009
"""Lines 1..14 per order."""
BUSINESS_WORDS = ("Holdings", "Partners", "Group", "Labs", "Systems", "Trading", "Foods", "Logistics", "Studio",
                  "Works", "Consulting", "Health", "Energy", "Capital", "Retail", "Media")  # fmt: skip


def _pool_arrays() -> dict[str, np.ndarray]:
    """The country and city pools as flat arrays (a city knows its country)."""
    cities, city_country, city_weight = [], [], []
    for i, (_, _, _, lines, names, weights) in enumerate(COUNTRIES):
        cities += list(names)
        city_country += [i] * len(names)
        city_weight += [lines * w / sum(weights) for w in weights]
    return {
        "city": np.array(cities, dtype=object),
        "city_country": np.array(city_country),
        "city_p": np.array(city_weight) / sum(city_weight),
        "country": np.array([c[0] for c in COUNTRIES], dtype=object),
        "region": np.array([c[1] for c in COUNTRIES], dtype=object),
        "subregion": np.array([c[2] for c in COUNTRIES], dtype=object),
    }


POOLS = _pool_arrays()
PRODUCT_NAMES = np.array([p[0] for p in PRODUCTS], dtype=object)
PRODUCT_P = np.array([p[1] for p in PRODUCTS]) / sum(p[1] for p in PRODUCTS)
PRODUCT_PRICE = np.array([[np.log(p[2]), p[3], p[4]] for p in PRODUCTS])
DISCOUNTS = tuple(PROFIT_MARGIN)
DISCOUNT_CUMULATIVE = np.cumsum(
    [[p[5].get(level, 0) / sum(p[5].values()) for level in DISCOUNTS] for p in PRODUCTS], 1
)
"""DISCOUNT_CUMULATIVE[product]: cumulative probabilities of the discount levels each product is sold at."""
DISCOUNT_VALUE = np.array([float(level) for level in DISCOUNTS])
DISCOUNT_TEXT = np.array(DISCOUNTS, dtype=object)
MARGIN = np.array(list(PROFIT_MARGIN.values()))


# --- customers ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Customers:
    """The retail customers (bank clients with a business) and their contacts; contacts of customer ``i`` are
    ``contact_first[i] : contact_first[i] + contact_count[i]``, the first being the client."""

    client_id: np.ndarray  # int64, sorted by created_at
    created_at: np.ndarray  # datetime64[s], sorted
    name: np.ndarray  # object: the business name
    industry: np.ndarray  # object
    segment: np.ndarray  # object
    volume: np.ndarray  # float: relative ordering rate
    contact_first: np.ndarray
    contact_count: np.ndarray
    contact_name: np.ndarray  # object
    contact_city: np.ndarray  # index into POOLS["city"]


def _clean(text: str) -> str:
    """The file has no quoting: make sure no name carries a delimiter, a quote or a line break."""
    return text.replace(",", "").replace('"', "").replace("\r", "").replace("\n", "")


def _business_names(rng: np.random.Generator, last_names: list[str], n: int) -> np.ndarray:
    """``n`` distinct business names such as "Hansen Logistics" (numbered once the combinations run out)."""
    combos = [f"{last} {word}" for last in last_names for word in BUSINESS_WORDS]
    order = rng.permutation(len(combos))
    names = [
        combos[order[i % len(combos)]] + ("" if i < len(combos) else f" {i // len(combos) + 1}")
        for i in range(n)
    ]
    return np.array([_clean(name) for name in names], dtype=object)


def build_customers(seed: int, scale: float, end_date: date) -> Customers:
    """Pick the retail customers among the CRM clients and give each a business and its contacts (named from
    the CRM's own name pools, so no extra fake data is drawn)."""
    pop = build_population(seed, scale, end_date)
    rng = rng_for(seed, SOURCE, "customers")
    chosen = np.flatnonzero(rng.random(len(pop.client_id)) < CUSTOMER_SHARE)
    n = len(chosen)
    first_names, last_names = np.unique(pop.first_name), np.unique(pop.last_name)
    segment = rng.choice(len(SEGMENTS), n, p=SEGMENT_P)
    contacts = 1 + np.minimum(rng.poisson(1.5, n), 7)
    first = np.concatenate([[0], np.cumsum(contacts)[:-1]]).astype(np.int64)
    total = int(contacts.sum())
    first_name = first_names[rng.integers(0, len(first_names), total)]
    last_name = last_names[rng.integers(0, len(last_names), total)]
    names = np.array([_clean(f"{a} {b}") for a, b in zip(first_name, last_name, strict=True)], dtype=object)
    names[first] = [
        _clean(f"{a} {b}") for a, b in zip(pop.first_name[chosen], pop.last_name[chosen], strict=True)
    ]
    return Customers(
        client_id=pop.client_id[chosen],
        created_at=pop.created_at[chosen],
        name=_business_names(rng, last_names.tolist(), n),
        industry=np.array(INDUSTRIES, dtype=object)[rng.choice(len(INDUSTRIES), n, p=INDUSTRY_P)],
        segment=np.array(SEGMENTS, dtype=object)[segment],
        volume=rng.lognormal(0.0, 0.7, n),
        contact_first=first,
        contact_count=contacts,
        contact_name=names,
        contact_city=rng.choice(len(POOLS["city"]), total, p=POOLS["city_p"]),
    )


# --- the order calendar ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calendar:
    """How many orders and order lines each day has, and where its Row IDs and order numbers start.

    Days run from ``first_day`` to the end date plus FUTURE_DAYS; ``day_order[d]`` is the first order (0-based)
    of day ``d`` and ``order_lines`` the lines of every order, so ``row_first[d]`` + 1 is the day's first Row ID.
    """

    first_day: date
    orders: np.ndarray  # per day
    day_order: np.ndarray  # per day: index of its first order
    order_lines: np.ndarray  # per order
    row_first: np.ndarray  # per day: rows before it

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=len(self.orders) - 1)

    def index(self, day: date) -> int:
        return (day - self.first_day).days


def build_calendar(seed: int, scale: float, end_date: date, customers: Customers) -> Calendar:
    """Orders per day: Poisson around a rate that follows the sample's months (busy September, November,
    December) and grows YEARLY_GROWTH a year, scaled so that the history has LINES_PER_SCALE x scale lines.
    Days before the first retail customer exists have no orders."""
    rng = rng_for(seed, SOURCE, "calendar")
    first_day = end_date - timedelta(days=RETAIL_HISTORY_DAYS - 1)
    days = np.arange(
        np.datetime64(first_day.isoformat(), "D"), np.datetime64(end_date.isoformat(), "D") + FUTURE_DAYS + 1
    )
    months = days.astype("datetime64[M]").astype(np.int64) % 12
    years = (days - days[0]).astype(np.int64) / 365.25
    shape = MONTH_WEIGHT[months] * YEARLY_GROWTH**years
    in_history = len(days) - FUTURE_DAYS
    mean_lines = float(np.dot(np.arange(1, 15), LINES_PER_ORDER_P))
    rate = shape * LINES_PER_SCALE * scale / shape[:in_history].sum() / mean_lines
    exists = np.searchsorted(customers.created_at, days.astype("datetime64[s]")) > 0
    orders = np.where(exists, rng.poisson(rate), 0)
    order_lines = rng.choice(np.arange(1, 15), int(orders.sum()), p=LINES_PER_ORDER_P)
    day_order = np.concatenate([[0], np.cumsum(orders)[:-1]]).astype(np.int64)
    lines_before_order = np.concatenate([[0], np.cumsum(order_lines)]).astype(np.int64)
    return Calendar(
        first_day=first_day,
        orders=orders,
        day_order=day_order,
        order_lines=order_lines,
        row_first=lines_before_order[day_order],
    )


# --- one day's order lines ------------------------------------------------------------------------------------
def _decimal(value: float) -> str:
    """A measure as the sample writes it: at most 4 decimals, no trailing zeros, no exponent."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _base36(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(LICENSE_ALPHABET[digit])
    return "".join(reversed(digits))


def _licenses(seed: int, row_ids: list[int]) -> list[str]:
    """A 10-character code per row, unique: an affine permutation of the Row ID modulo 36^10 (Python
    integers, as the product overflows 64 bits)."""
    offset = int(rng_for(seed, SOURCE, "license").integers(0, LICENSE_SPACE))
    return [_base36((row * LICENSE_MULTIPLIER + offset) % LICENSE_SPACE, 10) for row in row_ids]


@dataclass(frozen=True)
class DayOrders:
    """The orders of one day: who placed each (customer, contact) and where it ships (city)."""

    seq: np.ndarray  # global order number, 0-based
    lines: np.ndarray  # lines per order
    customer: np.ndarray  # index into Customers
    contact: np.ndarray  # index into Customers.contact_name
    city: np.ndarray  # index into POOLS["city"]


def _draw_orders(rng: np.random.Generator, customers: Customers, calendar: Calendar, day: date) -> DayOrders:
    """The day's orders, each from a customer that existed before the day began (in proportion to its
    ordering rate), placed by the client or a colleague, shipped mostly to the contact's city."""
    d = calendar.index(day)
    k = int(calendar.orders[d])
    seq = calendar.day_order[d] + np.arange(k)
    eligible = int(np.searchsorted(customers.created_at, np.datetime64(day.isoformat(), "s")))
    volume = customers.volume[:eligible]
    customer = rng.choice(eligible, k, p=volume / volume.sum())
    colleagues = customers.contact_count[customer] - 1
    colleague = 1 + rng.integers(0, np.iinfo(np.int64).max, k) % np.maximum(colleagues, 1)
    in_person = (rng.random(k) < PRIMARY_CONTACT_P) | (colleagues == 0)
    contact = customers.contact_first[customer] + np.where(in_person, 0, colleague)
    city = np.where(
        rng.random(k) < HOME_LOCATION_P,
        customers.contact_city[contact],
        rng.choice(len(POOLS["city"]), k, p=POOLS["city_p"]),
    )
    return DayOrders(seq=seq, lines=calendar.order_lines[seq], customer=customer, contact=contact, city=city)


def _order_ids(seed: int, orders: DayOrders, day: date) -> list[str]:
    """``<Region>-<year>-<number>``: the number is a permutation of the global order sequence."""
    offset = int(rng_for(seed, SOURCE, "order numbers").integers(0, 900_000))
    seq = orders.seq
    number = (seq * ORDER_MULTIPLIER + offset) % 900_000 + 100_000 + (seq // 900_000) * 1_000_000
    region = POOLS["region"][POOLS["city_country"][orders.city]]
    return [f"{r}-{day.year}-{num}" for r, num in zip(region.tolist(), number.tolist(), strict=True)]


def _draw_measures(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Product, quantity, discount level, sales and profit of ``n`` order lines: the list price is lognormal
    around the product's median (capped at its highest price in the sample); deep discounts lose money."""
    product = rng.choice(len(PRODUCTS), n, p=PRODUCT_P)
    quantity = rng.choice(np.arange(1, 15), n, p=QUANTITY_P)
    drawn = (rng.random(n)[:, None] >= DISCOUNT_CUMULATIVE[product]).sum(axis=1)
    level = np.minimum(drawn, len(DISCOUNTS) - 1)
    price = np.exp(rng.normal(PRODUCT_PRICE[product, 0], PRODUCT_PRICE[product, 1]))
    price = np.round(np.clip(price, 0.5, PRODUCT_PRICE[product, 2]), 2)
    sales = np.round(price * quantity * (1 - DISCOUNT_VALUE[level]), 4)
    margin = np.clip(rng.normal(MARGIN[level, 0], MARGIN[level, 1] * 0.8), -2.75, 0.5)
    return product, quantity, level, sales, np.round(sales * margin, 4)


def day_rows(seed: int, customers: Customers, calendar: Calendar, day: date) -> list[list[str]]:
    """The order lines placed on ``day``, as lists of the 19 column texts."""
    if calendar.orders[calendar.index(day)] == 0:
        return []
    rng = rng_for(seed, SOURCE, "day", day.isoformat())
    orders = _draw_orders(rng, customers, calendar, day)
    order_ids = _order_ids(seed, orders, day)
    n = int(orders.lines.sum())
    product, quantity, level, sales, profit = _draw_measures(rng, n)
    first_row = int(calendar.row_first[calendar.index(day)]) + 1
    row_ids = list(range(first_row, first_row + n))
    of_line = np.repeat(np.arange(len(orders.seq)), orders.lines)
    customer = orders.customer[of_line]
    country = POOLS["city_country"][orders.city[of_line]]
    columns = [
        [str(row) for row in row_ids],
        [order_ids[i] for i in of_line.tolist()],
        [f"{day.month}/{day.day}/{day.year}"] * n,
        [f"{day:%Y%m%d}"] * n,
        customers.contact_name[orders.contact[of_line]].tolist(),
        POOLS["country"][country].tolist(),
        POOLS["city"][orders.city[of_line]].tolist(),
        POOLS["region"][country].tolist(),
        POOLS["subregion"][country].tolist(),
        customers.name[customer].tolist(),
        customers.client_id[customer].astype(str).tolist(),
        customers.industry[customer].tolist(),
        customers.segment[customer].tolist(),
        PRODUCT_NAMES[product].tolist(),
        _licenses(seed, row_ids),
        [_decimal(x) for x in sales.tolist()],
        quantity.astype(str).tolist(),
        DISCOUNT_TEXT[level].tolist(),
        [_decimal(x) for x in profit.tolist()],
    ]
    return [list(row) for row in zip(*columns, strict=True)]


def render_csv(rows: list[list[str]]) -> bytes:
    """The file's bytes: BOM, header, one line per order line, every line ending with CRLF."""
    lines = [",".join(HEADER), *(",".join(row) for row in rows)]
    return (BOM + NEWLINE.join(lines) + NEWLINE).encode("utf-8")


# --- files and entry points -----------------------------------------------------------------------------------
def raw_uri(lake: Lake, extracted_at: datetime) -> str:
    return lake.uri(
        "raw",
        SOURCE,
        f"ingest_date={extracted_at.date().isoformat()}",
        f"retail_orders_{batch_stamp(extracted_at)}.csv",
    )


def _write(lake: Lake, rows: list[list[str]], extracted_at: datetime) -> tuple[str, int]:
    uri = raw_uri(lake, extracted_at)
    lake.write_bytes(uri, render_csv(rows))
    return uri, len(rows)


def generate(settings: Settings, lake: Lake) -> list[tuple[str, int]]:
    """Write the full export taken at the end date: every order line placed before it. Returns
    ``[(uri, lines)]``. Same seed, scale and end date: byte-identical file."""
    customers = build_customers(settings.seed, settings.scale, settings.end_date)
    calendar = build_calendar(settings.seed, settings.scale, settings.end_date, customers)
    rows: list[list[str]] = []
    day = calendar.first_day
    while day < settings.end_date:
        rows += day_rows(settings.seed, customers, calendar, day)
        day += timedelta(days=1)
    return [_write(lake, rows, start_of_day(settings.end_date))]


def generate_day(settings: Settings, lake: Lake, day: date) -> list[tuple[str, int]]:
    """Write the daily export taken at ``day`` 00:00: the order lines placed the day before."""
    customers = build_customers(settings.seed, settings.scale, settings.end_date)
    calendar = build_calendar(settings.seed, settings.scale, settings.end_date, customers)
    placed = day - timedelta(days=1)
    if not calendar.first_day <= placed <= calendar.last_day:
        raise ValueError(
            f"retail orders are simulated from {calendar.first_day} to {calendar.last_day}; the export of {day} "
            "would need other days (move C360_END_DATE to simulate them)"
        )
    return [_write(lake, day_rows(settings.seed, customers, calendar, placed), start_of_day(day))]


def c360view_retail_orders(event: dict, context: object) -> dict:
    """Lambda: on an EventBridge schedule, land the SaaS app's export of the event's day in the raw zone."""
    settings = Settings()
    [(uri, lines)] = generate_day(settings, Lake(settings.lake), event_day(event))
    return {"source": SOURCE, "uri": uri, "records": lines}
