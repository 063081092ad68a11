"""Physical constants, emission factors and the model's fixed classifications.

Emission factors are IPCC 2006 Guidelines Vol. 2 Table 1.4 defaults (t CO2 per TJ, net calorific basis), as
read in ``calibration-facts.md``. Conversion factors are the standard Chinese statistical ones.
"""

from __future__ import annotations

TJ_PER_TCE = 0.0293076
"""1 tonne of coal equivalent = 29.3076 GJ (GB/T 2589)."""
GJ_PER_MWH = 3.6
PJ_PER_TJ = 1e-3

SECTORS: tuple[str, ...] = (
    "power_heat",
    "refining",
    "petrochemicals",
    "industry",
    "transport",
    "buildings",
    "oilfield",
    "hydrogen",
    "data_centres",
    "waste",
)
"""Emitting sectors, in the order of the accounting arrays."""

FUELS: tuple[str, ...] = (
    "coal",
    "natural_gas",
    "gasoline",
    "diesel",
    "fuel_oil",
    "lpg",
    "refinery_gas",
    "petroleum_coke",
    "hydrogen",
    "electricity",
    "heat",
    "process",
)
"""Energy carriers, plus ``process`` for CO2 that is not from combustion (SMR feedstock, cracking)."""

FOSSIL_FUELS: tuple[str, ...] = (
    "coal",
    "natural_gas",
    "gasoline",
    "diesel",
    "fuel_oil",
    "lpg",
    "refinery_gas",
    "petroleum_coke",
)

EMISSION_FACTOR_T_PER_TJ: dict[str, float] = {
    # Xinjiang thermal coal (Junggar basin) is mostly sub-bituminous / long-flame: IPCC sub-bituminous 96.1.
    "coal": 96.1,
    "natural_gas": 56.1,
    "gasoline": 69.3,
    "diesel": 74.1,
    "fuel_oil": 77.4,
    "lpg": 63.1,
    # IPCC lists refinery gas at 57.6 (marked U in calibration-facts.md: not re-read in the source).
    "refinery_gas": 57.6,
    "petroleum_coke": 97.5,
}
"""IPCC 2006 Vol. 2 Table 1.4 default CO2 factors, t CO2/TJ."""

SCOPES: tuple[str, ...] = ("direct", "indirect", "ch4_co2e", "sink")
"""``direct``: territorial combustion and process CO2. ``indirect``: net imported electricity times the
Northwest grid factor (negative when the city is a net exporter, the consumption-based correction).
``ch4_co2e``: landfill methane as CO2-equivalent at ``GWP100_CH4`` (kept out of the CO2 totals, shown beside
them). ``sink``: removals by afforestation and greening (negative), reported apart from gross emissions."""

GWP100_CH4 = 27.9
"""IPCC AR6 WG1 Table 7.15, 100-year GWP of non-fossil methane (27.0) and fossil (29.8); 27.9 is the AR6
value for methane used in UNFCCC reporting from 2024 (assumption: landfill gas treated at this value)."""

NORTHWEST_GRID_FACTOR_2023_T_PER_MWH = 0.5543
"""MEE-NBS notice on 2023 grid emission factors, Northwest regional grid (calibration-facts.md)."""

SECTOR_INDEX = {s: i for i, s in enumerate(SECTORS)}
FUEL_INDEX = {f: i for i, f in enumerate(FUELS)}
