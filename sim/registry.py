"""The one parameter registry.

Every scalar the model reads from a scenario is declared here once, with its unit, default, bounds,
uncertainty distribution, bilingual label and source. The scenario schema takes its defaults and range
checks from this table, the ensemble and SALib samplers take their distributions from it, the app builds
its controls from it and ``citypeak params`` prints the documentation table from it (the PyPSA
``component_attrs`` habit: one table drives defaults, validation and docs).

Kinds:
    ``uncertainty``: a fact about the world we do not control (growth, prices, technology). Sampled in
    ensembles.
    ``lever``: a policy choice. Fixed by the scenario; varied only in sweeps that ask for levers.
    ``setting``: a model resolution or structural constant; never sampled.

Sources: where the value is read from a document the ``source`` field names it; a value that is a
modelling judgement starts with ``assumption:`` and gives the reasoning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["uncertainty", "lever", "setting"]
Distribution = Literal["uniform", "triangular", "normal", "lognormal"]


@dataclass(frozen=True)
class Parameter:
    """One scalar model input.

    Attributes:
        name: identifier with its unit as a suffix (``gdp_growth_pct_per_yr``).
        kind: ``uncertainty``, ``lever`` or ``setting``.
        unit: human-readable unit.
        default: central value used when a scenario does not set it.
        low: smallest allowed value (validation and sampling lower bound).
        high: largest allowed value (validation and sampling upper bound).
        distribution: how an ensemble samples it between ``low`` and ``high``. ``triangular`` has its mode
            at ``default``; ``normal`` is centred on ``default`` with ``sd`` and truncated to the bounds.
        label_en: short English label for the app.
        label_zh: short Chinese label for the app.
        group: SALib group and app section.
        source: where the number comes from, or ``assumption: why``.
        sd: standard deviation for ``normal``.
        guidance: what a realistic setting looks like (shown as a tooltip).
        integer: whether the value is a whole number (years, counts).
        guidance_zh: ``guidance`` in Chinese, for the app's Chinese tooltips (from :data:`_GUIDANCE_ZH`).
    """

    name: str
    kind: Kind
    unit: str
    default: float
    low: float
    high: float
    distribution: Distribution
    label_en: str
    label_zh: str
    group: str
    source: str
    sd: float | None = None
    guidance: str = ""
    integer: bool = False
    extra: dict = field(default_factory=dict)
    guidance_zh: str = ""

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise ValueError(f"registry entry {self.name}: default {self.default} outside [{self.low}, {self.high}]")
        if self.distribution == "normal" and not (self.sd and self.sd > 0):
            raise ValueError(f"registry entry {self.name}: normal distribution needs sd > 0")

    @property
    def unit_suffix(self) -> str:
        """The unit as it follows a number in a message: empty for a dimensionless value (unit ``-``), where
        a trailing "-" reads as a stray dash."""
        return "" if self.unit == "-" else f" {self.unit}"

    def limits_inside(self, low: float, high: float) -> tuple[float, float]:
        """Limits ``low``-``high`` as a statement about this parameter gives them: for a whole-number parameter
        the whole numbers inside them. Why: PRIM cuts whole-number data half-way, and "<= 2049.5" rounded to the
        nearest year read "<= 2050", a year outside the box."""
        if self.integer:
            return float(math.ceil(low - 1e-9)), float(math.floor(high + 1e-9))
        return low, high

    @property
    def allowed_range(self) -> str:
        """``[low, high] unit``, as every message about a value outside the registry's bounds states it."""
        return f"[{self.low:g}, {self.high:g}]{self.unit_suffix}"


def _p(*args, **kwargs) -> Parameter:
    return Parameter(*args, **kwargs)


_ENTRIES: list[Parameter] = [
    # ---------------------------------------------------------------- demand drivers
    _p(
        "population_growth_pct_per_yr",
        "uncertainty",
        "%/yr",
        0.4,
        -0.8,
        1.2,
        "triangular",
        "Population growth",
        "人口增长率",
        "demand",
        "assumption: bulletins give 489,000 (2023) and 492,900 (2024), +0.8%; long-run growth of a mature "
        "resource city is taken lower, 0.4%/yr, with a wide range",
    ),
    _p(
        "gdp_growth_pct_per_yr",
        "uncertainty",
        "%/yr",
        5.0,
        2.0,
        7.5,
        "triangular",
        "GDP growth to 2030",
        "2030年前GDP增速",
        "demand",
        "assumption: city GDP rose from 97.3 bn CNY (2020) to 118.81 bn CNY (2022), about 10%/yr nominal "
        "in an oil-price upswing; real growth of 5%/yr is taken as central",
    ),
    _p(
        "gdp_growth_decline_pct_pts_per_decade",
        "uncertainty",
        "%-pt/decade",
        1.5,
        0.5,
        2.5,
        "uniform",
        "GDP growth slowdown per decade after 2030",
        "2030年后GDP增速每十年下降",
        "demand",
        "assumption: convergence of growth as in national long-run projections",
    ),
    _p(
        "refinery_throughput_growth_pct_per_yr",
        "uncertainty",
        "%/yr",
        0.0,
        -2.0,
        1.5,
        "triangular",
        "Refinery crude-run growth",
        "炼油加工量增速",
        "industry",
        "assumption: national refining capacity is capped (the plan's 'strict project access, implement "
        "national capacity control'); crude runs held flat centrally",
    ),
    _p(
        "industry_output_growth_pct_per_yr",
        "uncertainty",
        "%/yr",
        4.5,
        1.0,
        7.0,
        "triangular",
        "Other industry output growth",
        "其他工业产出增速",
        "industry",
        "assumption: the plan's chemicals, new-materials and computing build-out lets industry outside the "
        "refineries grow near GDP",
    ),
    _p(
        "industry_intensity_decline_pct_per_yr",
        "uncertainty",
        "%/yr",
        2.0,
        0.5,
        3.5,
        "uniform",
        "Other industry energy-intensity decline",
        "其他工业能耗强度下降率",
        "industry",
        "assumption: national 14th FYP energy-intensity target -13.5% over 5 years is ~2.9%/yr; industry "
        "outside the modelled plants is taken a little below it",
    ),
    _p(
        "car_ownership_saturation_per_1000",
        "uncertainty",
        "cars/1000 people",
        400.0,
        330.0,
        480.0,
        "triangular",
        "Private car ownership at saturation",
        "私家车保有量饱和水平",
        "transport",
        "assumption: a high-income city; Chinese cities with similar income reach 350-450 cars per 1000",
    ),
    _p(
        "heating_degree_days_trend_pct_per_decade",
        "uncertainty",
        "%/decade",
        -3.0,
        -6.0,
        0.0,
        "uniform",
        "Heating degree-day trend",
        "采暖度日数变化趋势",
        "buildings",
        "assumption: warming trend of heating degree days in northern Xinjiang",
    ),
    # ---------------------------------------------------------------- prices
    _p(
        "coal_price_cny_per_gj",
        "uncertainty",
        "CNY/GJ",
        14.0,
        10.0,
        22.0,
        "triangular",
        "Coal price",
        "煤价",
        "prices",
        "assumption: Xinjiang thermal coal ~300 CNY/t delivered at ~21 GJ/t; national prices are higher",
    ),
    _p(
        "gas_price_cny_per_gj",
        "uncertainty",
        "CNY/GJ",
        50.0,
        38.0,
        70.0,
        "triangular",
        "Natural gas price",
        "天然气价格",
        "prices",
        "assumption: non-residential gas ~1.8 CNY/m3 at 36 GJ per 1000 m3",
    ),
    _p(
        "oil_price_index",
        "uncertainty",
        "x 2024",
        1.0,
        0.7,
        1.5,
        "triangular",
        "Oil product price index",
        "成品油价格指数",
        "prices",
        "assumption: multiplier on 2024 pump prices (gasoline ~8 CNY/L, diesel ~7.5 CNY/L)",
    ),
    _p(
        "regional_power_price_cny_per_mwh",
        "uncertainty",
        "CNY/MWh",
        250.0,
        200.0,
        350.0,
        "triangular",
        "Regional wholesale power price",
        "区域电力批发价格",
        "prices",
        "assumption: Xinjiang coal benchmark tariff is 0.25 CNY/kWh",
    ),
    _p(
        "regional_carbon_pass_through_t_per_mwh",
        "uncertainty",
        "t/MWh",
        0.6,
        0.3,
        0.85,
        "uniform",
        "Carbon cost passed into the regional power price",
        "区域电价中的碳成本传导",
        "prices",
        "assumption: Xinjiang's marginal plant is coal at ~0.83 t/MWh (fossil-only factor 0.8273, MEE-NBS 2023); "
        "a partly regulated market passes on part of it",
    ),
    _p(
        "northwest_grid_factor_decline_pct_per_yr",
        "uncertainty",
        "%/yr",
        2.5,
        1.0,
        4.5,
        "uniform",
        "Northwest grid factor decline",
        "西北电网排放因子下降率",
        "power",
        "assumption: the factor fell 0.5857 -> 0.5543 t/MWh from 2022 to 2023 (MEE-NBS notices), -5.4%; "
        "a slower sustained decline is taken",
    ),
    # ---------------------------------------------------------------- technology
    _p(
        "ev_price_premium_decline_pct_per_yr",
        "uncertainty",
        "%/yr",
        8.0,
        3.0,
        14.0,
        "triangular",
        "EV price premium decline",
        "电动车价格溢价下降率",
        "technology",
        "assumption: battery pack costs fell ~10%/yr 2015-2024; premium over ICE shrinks a bit slower",
    ),
    _p(
        "ev_kwh_per_100km",
        "uncertainty",
        "kWh/100 km",
        20.0,
        15.0,
        25.0,
        "uniform",
        "EV consumption (cold climate)",
        "电动车百公里电耗",
        "technology",
        "field tests: 15-25 kWh/100 km, cold weather at the high end (calibration-facts.md)",
    ),
    _p(
        "car_real_world_uplift",
        "uncertainty",
        "x test",
        1.37,
        1.2,
        1.5,
        "uniform",
        "Car fuel use, real-world over test",
        "实际油耗与测试值之比",
        "technology",
        "real-world fuel use +37% over test cycle (calibration-facts.md, study); test 7.2 L/100 km (IEA 2019)",
    ),
    _p(
        "heat_pump_seasonal_cop",
        "uncertainty",
        "-",
        2.6,
        1.8,
        3.3,
        "triangular",
        "Heat pump seasonal COP",
        "热泵季节性能系数",
        "technology",
        "field studies: 1.3-3.3 in deep cold, seasonal ~2.6-3.3 (calibration-facts.md)",
    ),
    _p(
        "pv_cost_decline_pct_per_yr",
        "uncertainty",
        "%/yr",
        3.5,
        1.5,
        6.0,
        "uniform",
        "PV system cost decline",
        "光伏系统成本下降率",
        "technology",
        "Tsinghua: 4.13 CNY/W (2022) to ~3.2 CNY/W by 2030 is 3.1%/yr (calibration-facts.md)",
    ),
    _p(
        "wind_capacity_factor",
        "uncertainty",
        "-",
        0.26,
        0.21,
        0.31,
        "uniform",
        "Wind capacity factor",
        "风电容量系数",
        "power",
        "assumption: northern Xinjiang wind ~2,300 full-load hours",
    ),
    _p(
        "solar_capacity_factor",
        "uncertainty",
        "-",
        0.17,
        0.145,
        0.19,
        "uniform",
        "Solar capacity factor",
        "光伏容量系数",
        "power",
        "assumption: ~1,500 full-load hours in the Junggar basin",
    ),
    # ---------------------------------------------------------------- behaviour
    _p(
        "hurdle_rate_mean",
        "uncertainty",
        "1/yr",
        0.12,
        0.06,
        0.20,
        "triangular",
        "Households' mean hurdle rate",
        "居民平均贴现率",
        "behaviour",
        "assumption: implicit discount rates for durable purchases are 10-20%/yr in the literature",
    ),
    _p(
        "peer_effect_strength",
        "uncertainty",
        "utils",
        1.5,
        0.0,
        3.0,
        "uniform",
        "Peer-adoption effect",
        "同伴效应强度",
        "behaviour",
        "assumption: utility gain from a neighbourhood adoption share of 100%; 0 switches peer effects off",
    ),
    _p(
        "choice_cost_sensitivity",
        "uncertainty",
        "1/(10k CNY/yr)",
        0.9,
        0.5,
        1.5,
        "uniform",
        "Sensitivity of choices to annual cost",
        "选择对年成本的敏感度",
        "behaviour",
        "assumption: logit scale so that a 10,000 CNY/yr cost gap moves the odds by e^0.9",
    ),
    # ---------------------------------------------------------------- levers (issue: policy levers)
    _p(
        "carbon_price_start_cny_per_t",
        "lever",
        "CNY/t",
        96.0,
        0.0,
        600.0,
        "uniform",
        "Carbon price in base year",
        "基年碳价",
        "carbon_price",
        "national ETS average 95.96 CNY/t in 2024 (ICAP; calibration-facts.md)",
        guidance="2024 national ETS average ~96 CNY/t; EU ETS ~500-700 CNY/t",
        extra={"phase_in": False},
    ),
    _p(
        "carbon_price_2030_cny_per_t",
        "lever",
        "CNY/t",
        130.0,
        0.0,
        800.0,
        "uniform",
        "Carbon price in 2030",
        "2030年碳价",
        "carbon_price",
        "assumption: current-policy path of the national ETS, rising slowly",
        guidance="Most Chinese studies expect 100-200 CNY/t by 2030",
        extra={"phase_in": False},
    ),
    _p(
        "carbon_price_2060_cny_per_t",
        "lever",
        "CNY/t",
        250.0,
        0.0,
        2000.0,
        "uniform",
        "Carbon price in 2060",
        "2060年碳价",
        "carbon_price",
        "assumption: current-policy path",
        guidance="Carbon-neutrality studies use 500-1500 CNY/t by 2060",
        extra={"phase_in": False},
    ),
    _p(
        "ev_subsidy_cny_per_vehicle",
        "lever",
        "CNY/vehicle",
        0.0,
        0.0,
        60000.0,
        "uniform",
        "EV purchase subsidy",
        "电动车购置补贴",
        "subsidies",
        "assumption: national purchase subsidy ended 2022; local subsidies have been 5,000-20,000 CNY",
        guidance="0 = none; 10,000-20,000 CNY is a strong local programme",
        extra={"phase_in": False},
    ),
    _p(
        "coal_phase_out_year",
        "lever",
        "year",
        2100.0,
        2028.0,
        2100.0,
        "uniform",
        "Coal condensing units retire by",
        "纯凝煤电机组退出年份",
        "power_policy",
        "assumption: no phase-out date in current policy; 2100 means no mandate",
        integer=True,
        guidance="Pilot plan retrofits coal units but names no retirement date",
        extra={"phase_in": False},
    ),
    # ---------------------------------------------------------------- settings
    _p(
        "resolution",
        "setting",
        "agents per real unit",
        0.1,
        0.001,
        1.0,
        "uniform",
        "Resolution (agents per real household/vehicle/building)",
        "分辨率（每个真实单位的智能体数）",
        "settings",
        "setting: 1 = one agent per real household, vehicle and building; weights scale the rest",
    ),
]


def _lever(
    name, unit, default, low, high, label_en, label_zh, group, source, guidance="", integer=False, phase_in=True
) -> Parameter:
    """A policy lever. ``default`` is the current-policy (neutral) setting, against which the lever's
    effect is measured. ``phase_in``: the value is reached at the scenario's policy target year, ramping
    linearly from the neutral value at its start year (unless the scenario gives an explicit schedule)."""
    return Parameter(
        name,
        "lever",
        unit,
        default,
        low,
        high,
        "uniform",
        label_en,
        label_zh,
        group,
        source,
        guidance=guidance,
        integer=integer,
        extra={"phase_in": phase_in},
    )


_NONE = "2100 means no such policy"
_ENTRIES += [
    # carbon price: coverage, allocation, pass-through
    _lever(
        "carbon_coverage_industry_year",
        "year",
        2100,
        2025,
        2100,
        "Carbon price covers other industry from",
        "碳价覆盖其他工业起始年",
        "carbon_price",
        f"assumption: not covered under current policy; {_NONE}",
        "The national ETS added steel, cement, aluminium in 2025; chemicals are next in line",
        True,
        False,
    ),
    _lever(
        "carbon_coverage_transport_year",
        "year",
        2100,
        2025,
        2100,
        "Carbon price on transport fuels from",
        "交通燃料碳价起始年",
        "carbon_price",
        f"assumption: not covered under current policy; {_NONE}",
        "EU ETS2 covers road fuels from 2027",
        True,
        False,
    ),
    _lever(
        "carbon_coverage_buildings_year",
        "year",
        2100,
        2025,
        2100,
        "Carbon price on building fuels from",
        "建筑用能碳价起始年",
        "carbon_price",
        f"assumption: not covered under current policy; {_NONE}",
        "",
        True,
        False,
    ),
    _lever(
        "carbon_free_allocation_share",
        "-",
        0.95,
        0.0,
        1.0,
        "Free allocation share (ETS sectors)",
        "免费配额比例",
        "carbon_price",
        "assumption: the national ETS allocates almost all allowances free by intensity benchmark",
        "Decisions see the full price as opportunity cost; free allocation only changes revenue",
        False,
        False,
    ),
    _lever(
        "carbon_pass_through_share",
        "-",
        1.0,
        0.0,
        1.0,
        "Carbon cost passed to end-user prices",
        "碳成本向终端价格传导比例",
        "carbon_price",
        "assumption: fuel prices pass costs through; regulated power tariffs may not",
        "0 = regulated retail prices absorb it; 1 = full pass-through",
        False,
        False,
    ),
    # subsidies with budgets
    _lever(
        "ev_subsidy_budget_mcny",
        "M CNY",
        200,
        0,
        5000,
        "EV subsidy budget",
        "电动车补贴预算",
        "subsidies",
        "assumption: local programme size",
        "The subsidy stops in the year the budget runs out",
        False,
        False,
    ),
    _lever(
        "heat_pump_subsidy_cny_per_m2",
        "CNY/m2",
        0,
        0,
        200,
        "Heat pump subsidy",
        "热泵补贴",
        "subsidies",
        "assumption: northern clean-heating programmes paid 30-100 CNY/m2",
        "",
        False,
        False,
    ),
    _lever(
        "heat_pump_subsidy_budget_mcny",
        "M CNY",
        200,
        0,
        5000,
        "Heat pump subsidy budget",
        "热泵补贴预算",
        "subsidies",
        "assumption",
        "",
        False,
        False,
    ),
    _lever(
        "rooftop_pv_subsidy_cny_per_w",
        "CNY/W",
        0,
        0,
        2.0,
        "Rooftop PV subsidy",
        "屋顶光伏补贴",
        "subsidies",
        "assumption: local distributed-PV subsidies have been 0.1-0.5 CNY/W",
        "",
        False,
        False,
    ),
    _lever(
        "rooftop_pv_subsidy_budget_mcny",
        "M CNY",
        100,
        0,
        2000,
        "Rooftop PV subsidy budget",
        "屋顶光伏补贴预算",
        "subsidies",
        "assumption",
        "",
        False,
        False,
    ),
    _lever(
        "retrofit_subsidy_cny_per_m2",
        "CNY/m2",
        0,
        0,
        300,
        "Building retrofit subsidy",
        "建筑节能改造补贴",
        "subsidies",
        "assumption: northern retrofit programmes paid 50-200 CNY/m2",
        "",
        False,
        False,
    ),
    _lever(
        "retrofit_subsidy_budget_mcny",
        "M CNY",
        300,
        0,
        5000,
        "Building retrofit subsidy budget",
        "建筑节能改造补贴预算",
        "subsidies",
        "assumption",
        "",
        False,
        False,
    ),
    _lever(
        "green_h2_subsidy_cny_per_kg",
        "CNY/kg H2",
        0,
        0,
        30,
        "Green hydrogen subsidy",
        "绿氢补贴",
        "subsidies",
        "assumption: Inner Mongolia and Xinjiang pilots discuss 10-20 CNY/kg",
        "Paid per kg of electrolytic hydrogen produced",
        False,
        False,
    ),
    _lever(
        "green_h2_subsidy_budget_mcny",
        "M CNY",
        1000,
        0,
        10000,
        "Green hydrogen subsidy budget",
        "绿氢补贴预算",
        "subsidies",
        "assumption",
        "",
        False,
        False,
    ),
    _lever(
        "ccus_subsidy_cny_per_t",
        "CNY/t CO2",
        0,
        0,
        400,
        "CCUS subsidy",
        "CCUS补贴",
        "subsidies",
        "assumption: the US 45Q credit is ~600 CNY/t; Chinese support is project-by-project",
        "Paid per tonne captured and stored",
        False,
        False,
    ),
    _lever(
        "ccus_subsidy_budget_mcny",
        "M CNY",
        2000,
        0,
        20000,
        "CCUS subsidy budget",
        "CCUS补贴预算",
        "subsidies",
        "assumption",
        "",
        False,
        False,
    ),
    # electrification mandates (share of purchases, reached by the policy target year)
    _lever(
        "bus_electric_sales_share",
        "-",
        0.0,
        0.0,
        1.0,
        "Electric share of bus purchases",
        "公交车电动化采购比例",
        "mandates",
        "assumption: no binding local mandate beyond national NEV guidance",
        "National guidance asks 80%+ NEV for new public-transport vehicles in pilot cities",
    ),
    _lever(
        "taxi_electric_sales_share",
        "-",
        0.0,
        0.0,
        1.0,
        "Electric share of taxi purchases",
        "出租车电动化采购比例",
        "mandates",
        "assumption: as bus_electric_sales_share",
    ),
    _lever(
        "light_truck_electric_sales_share",
        "-",
        0.0,
        0.0,
        1.0,
        "Electric share of logistics van purchases",
        "物流车电动化采购比例",
        "mandates",
        "assumption: as bus_electric_sales_share",
    ),
    _lever(
        "heavy_truck_electric_sales_share",
        "-",
        0.0,
        0.0,
        1.0,
        "Electric share of heavy truck purchases",
        "重型卡车电动化采购比例",
        "mandates",
        "assumption: as bus_electric_sales_share",
    ),
    _lever(
        "electric_heating_share_of_installs",
        "-",
        0.0,
        0.0,
        1.0,
        "Electric heating share of new and replaced systems",
        "新建及更换采暖电气化比例",
        "mandates",
        "assumption: no mandate under current policy",
        "Plan: heat pumps, electric boilers, electric heating",
    ),
    _lever(
        "industry_electrification_extra_pct_pts_per_yr",
        "%-pt/yr",
        0.0,
        0.0,
        3.0,
        "Extra industrial boiler/heat electrification",
        "工业锅炉额外电气化速度",
        "mandates",
        "assumption",
        "Plan: industrial electric boilers and heat pumps replace fuel",
        False,
        False,
    ),
    # the pilot plan's measures
    _lever(
        "coal_retrofit_mandate_year",
        "year",
        2100,
        2025,
        2100,
        "All coal units retrofitted by",
        "煤电三改联动完成年份",
        "power_policy",
        f"assumption: {_NONE}",
        "Plan: energy-saving, flexibility and heat-supply retrofits of existing coal units",
        True,
        False,
    ),
    _lever(
        "renewable_capacity_target_gw_2030",
        "GW",
        0.0,
        0.0,
        40.0,
        "Wind + solar capacity target for 2030",
        "2030年风光装机目标",
        "power_policy",
        "assumption: 0 means no target (market build only)",
        "Base year has 6.5 GW; the target is met by a linear path from the start year",
        False,
        False,
    ),
    _lever(
        "storage_share_of_new_re",
        "-",
        0.15,
        0.0,
        0.5,
        "Storage paired with new wind/solar (share of MW)",
        "新能源配储比例",
        "power_policy",
        "assumption: Xinjiang pairs new wind/solar with storage at 10-25% of capacity (current rule)",
        "Storage is 4 h",
        False,
        False,
    ),
    _lever(
        "ccus_mandate_year",
        "year",
        2100,
        2026,
        2100,
        "Refinery hydrogen-unit CCUS in service by",
        "炼厂制氢CCUS投运年份",
        "power_policy",
        f"assumption: {_NONE}",
        "Plan: 1-2 full-chain million-tonne CCUS demonstrations",
        True,
        False,
    ),
    _lever(
        "refinery_chemicals_shift_pct_pts",
        "%-pt",
        0.0,
        0.0,
        30.0,
        "Refinery slate shift to chemicals",
        "炼厂减油增化幅度",
        "industry_policy",
        "assumption: no shift under current policy",
        "Plan: 'reduce oil, add chemicals'; chemicals need ~25% more energy per tonne",
    ),
    _lever(
        "efficiency_standard_extra_pct_per_yr",
        "%/yr",
        0.0,
        0.0,
        3.0,
        "Extra efficiency gain from equipment standards",
        "设备能效标准额外提升",
        "industry_policy",
        "assumption",
        "Plan: motors, pumps, fans, boilers, transformers; applies to industry and appliances",
        False,
        False,
    ),
    _lever(
        "transit_service_improvement_utils",
        "utils",
        0.0,
        0.0,
        2.0,
        "Public transport and cycling improvement",
        "公共交通与慢行改善",
        "transport_policy",
        "assumption: 1 util raises green-trip odds by e (2.7x)",
        "Plan: 75% green travel share in the central city by 2025",
    ),
    _lever(
        "emissions_cap_mt",
        "Mt CO2",
        100.0,
        5.0,
        100.0,
        "Territorial CO2 cap (dual control) from 2030",
        "碳排放总量控制（2030年起）",
        "power_policy",
        "assumption: 100 means no cap",
        "When exceeded, coal power exports are curtailed the next year",
        False,
        False,
    ),
]

# ------------------------------------------------------------------ the rest of the city (oilfield, CCUS, ...)
_ENTRIES += [
    Parameter(
        "oilfield_output_growth_pct_per_yr",
        "uncertainty",
        "%/yr",
        -0.5,
        -3.0,
        2.0,
        "triangular",
        "Oilfield output growth",
        "油田产量增速",
        "industry",
        "assumption: Xinjiang Oilfield produced 14.86 Mt in 2024 (Xinhua 2025) and plans stable output; "
        "mature Karamay blocks decline slowly",
    ),
    Parameter(
        "export_tie_growth_mw_per_yr",
        "uncertainty",
        "MW/yr",
        150.0,
        0.0,
        300.0,
        "triangular",
        "Growth of the city's export ties to the regional grid",
        "外送通道增长",
        "power",
        "assumption: Xinjiang is adding export channels ('疆电外送') that bundle coal with wind and solar; "
        "the city's share of new tie capacity is unknown and among the most consequential uncertainties",
    ),
    Parameter(
        "eor_retention_share",
        "uncertainty",
        "-",
        0.9,
        0.6,
        1.0,
        "triangular",
        "Share of EOR CO2 retained underground",
        "驱油CO2封存率",
        "technology",
        "assumption: CO2-EOR field studies report 60-95% net retention over project life",
    ),
    Parameter(
        "data_centre_growth_pct_per_yr",
        "uncertainty",
        "%/yr",
        12.0,
        0.0,
        25.0,
        "triangular",
        "Data-centre rack growth to 2040",
        "数据中心机架增速（至2040）",
        "demand",
        "assumption: national 'East data, West computing' build-out; 2% a year after 2040",
    ),
    Parameter(
        "sink_rate_factor",
        "uncertainty",
        "x",
        1.0,
        0.6,
        1.4,
        "uniform",
        "Sequestration rate multiplier",
        "碳汇速率系数",
        "technology",
        "assumption: arid-zone plantation growth varies with water supply",
    ),
    _lever(
        "oilfield_steam_electrification_share",
        "-",
        0.0,
        0.0,
        1.0,
        "Oilfield steam from electric boilers",
        "稠油注汽电气化比例",
        "industry_policy",
        "assumption: no mandate under current policy",
        "Electric boilers with thermal storage on wind/solar replace gas-fired steam generators",
    ),
    _lever(
        "pv_for_oil_share",
        "-",
        0.0,
        0.0,
        0.6,
        "Oilfield power from captive PV ('PV + oil extraction')",
        "光伏采油供电比例",
        "industry_policy",
        "assumption: pilot projects only under current policy",
        "Plan: '光伏+采油' projects",
    ),
    _lever(
        "ccus_cluster_mt_2030",
        "Mt/yr",
        0.0,
        0.0,
        15.0,
        "CCUS cluster capacity added by 2030",
        "2030年新增CCUS集群能力",
        "ccus_policy",
        "assumption: 0 = only the existing injection network; the plan names a 10 Mt/yr basin cluster",
        "Planned ~10 Mt/yr over 2026-30 (secondary source, calibration-facts.md)",
        False,
        False,
    ),
    _lever(
        "ccus_power_demo_year",
        "year",
        2100,
        2026,
        2100,
        "Coal-unit CCS demonstration in service",
        "煤电CCS示范投运年份",
        "ccus_policy",
        f"assumption: {_NONE}",
        "Plan: 1-2 full-chain million-tonne CCUS demonstrations",
        True,
        False,
    ),
    _lever(
        "green_h2_plant_kt_2030",
        "kt H2/yr",
        0.0,
        0.0,
        200.0,
        "New green-hydrogen plant capacity by target year",
        "新增绿氢产能",
        "hydrogen_policy",
        "assumption: no new plants beyond the CEEC project under current policy",
        "CEEC project: 10 kt/yr on 1 GW wind+solar (press 2024)",
    ),
    _lever(
        "data_centre_green_power_share",
        "-",
        0.0,
        0.0,
        1.0,
        "Data-centre use matched by new wind/solar",
        "数据中心绿电匹配比例",
        "power_policy",
        "assumption: no requirement under current policy",
        "Operators contract new renewables for this share of their annual use",
    ),
    _lever(
        "waste_sorting_push_utils",
        "utils",
        0.0,
        0.0,
        3.0,
        "Waste sorting campaign",
        "垃圾分类推动力度",
        "waste_policy",
        "assumption: 1 util multiplies a household's odds of starting to sort by e",
    ),
    _lever(
        "waste_incineration_share_target",
        "-",
        0.45,
        0.0,
        0.9,
        "Incineration capacity target (share of waste)",
        "垃圾焚烧能力目标（占比）",
        "waste_policy",
        "assumption: current capacity takes ~45% of municipal waste",
        "Plan: >= 60% resource utilisation",
    ),
    _lever(
        "afforestation_ha_per_yr",
        "ha/yr",
        0.0,
        0.0,
        5000.0,
        "New shelterbelt afforestation",
        "新增防护林造林面积",
        "sinks_policy",
        "assumption: no expansion programme under current policy",
        "Plan: shelterbelts and urban greening",
        False,
        False,
    ),
]

_GUIDANCE_ZH: dict[str, str] = {
    # Each entry's guidance in Chinese, for a workshop run in Chinese (the English is beside each entry above).
    "carbon_price_start_cny_per_t": "2024年全国碳市场均价约96元/吨；欧盟碳市场约500–700元/吨",
    "carbon_price_2030_cny_per_t": "多数国内研究预计2030年碳价为100–200元/吨",
    "carbon_price_2060_cny_per_t": "碳中和研究中2060年碳价一般取500–1500元/吨",
    "ev_subsidy_cny_per_vehicle": "0表示不补贴；每辆1万–2万元属于力度较大的地方补贴",
    "coal_phase_out_year": "试点方案要求煤电机组改造，但未规定退出时间",
    "carbon_coverage_industry_year": "全国碳市场于2025年纳入钢铁、水泥、铝冶炼；化工有望随后纳入",
    "carbon_coverage_transport_year": "欧盟第二碳市场（ETS2）自2027年起覆盖道路交通燃料",
    "carbon_free_allocation_share": "决策按完整碳价计入机会成本；免费配额只影响碳收入",
    "carbon_pass_through_share": "0表示由管制的终端价格吸收；1表示完全传导",
    "ev_subsidy_budget_mcny": "预算用完当年停止补贴",
    "green_h2_subsidy_cny_per_kg": "按电解水制氢产量每千克发放",
    "ccus_subsidy_cny_per_t": "按捕集并封存的CO2每吨发放",
    "bus_electric_sales_share": "国家要求试点城市新增及更新公交车中新能源汽车比例不低于80%",
    "electric_heating_share_of_installs": "试点方案：热泵、电锅炉、电采暖",
    "industry_electrification_extra_pct_pts_per_yr": "试点方案：以工业电锅炉和热泵替代燃料",
    "coal_retrofit_mandate_year": "试点方案：现役煤电机组节能降碳改造、灵活性改造和供热改造（“三改联动”）",
    "renewable_capacity_target_gw_2030": "基准年装机6.5吉瓦；自起始年起按线性路径达到目标",
    "storage_share_of_new_re": "储能时长为4小时",
    "ccus_mandate_year": "试点方案：1–2个百万吨级全流程CCUS示范项目",
    "refinery_chemicals_shift_pct_pts": "试点方案：“减油增化”；化工产品每吨能耗约高25%",
    "efficiency_standard_extra_pct_per_yr": "试点方案：电机、泵、风机、锅炉、变压器；适用于工业和家用电器",
    "transit_service_improvement_utils": "试点方案：2025年中心城区绿色出行比例达到75%",
    "emissions_cap_mt": "超出总量时，次年压减煤电外送",
    "oilfield_steam_electrification_share": "以风光供电、配储热的电锅炉替代燃气注汽锅炉",
    "pv_for_oil_share": "试点方案：“光伏+采油”项目",
    "ccus_cluster_mt_2030": "规划2026–2030年形成约1000万吨/年能力（二手资料，见calibration-facts.md）",
    "ccus_power_demo_year": "试点方案：1–2个百万吨级全流程CCUS示范项目",
    "green_h2_plant_kt_2030": "中国能建项目：1吉瓦风光配套年产1万吨绿氢（2024年报道）",
    "data_centre_green_power_share": "运营方按年用电量的这一比例签约新增可再生能源",
    "waste_incineration_share_target": "试点方案：资源化利用率不低于60%",
    "afforestation_ha_per_yr": "试点方案：防护林和城市绿化",
}
_unknown = set(_GUIDANCE_ZH) - {p.name for p in _ENTRIES}
if _unknown:
    raise ValueError(f"_GUIDANCE_ZH names parameters the registry does not have: {sorted(_unknown)}")
_ENTRIES = [replace(p, guidance_zh=_GUIDANCE_ZH[p.name]) if p.name in _GUIDANCE_ZH else p for p in _ENTRIES]

REGISTRY: dict[str, Parameter] = {p.name: p for p in _ENTRIES}


def parameters(kind: Kind | None = None) -> list[Parameter]:
    """Return registry entries, optionally only those of one kind, in declaration order."""
    return [p for p in _ENTRIES if kind is None or p.kind == kind]


def defaults() -> dict[str, float]:
    """Return ``{name: default}`` for every registry entry."""
    return {p.name: p.default for p in _ENTRIES}


def get(name: str) -> Parameter:
    """Return one entry; unknown names raise ``KeyError`` with the closest known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown parameter '{name}'{hint}") from None


def markdown_table() -> str:
    """Render the registry as the Markdown table used in ``docs/parameters.md``."""
    lines = [
        "| name | kind | unit | default | range | distribution | label (en / zh) | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in _ENTRIES:
        lines.append(
            f"| `{p.name}` | {p.kind} | {p.unit} | {p.default:g} | {p.low:g} - {p.high:g} | {p.distribution} "
            f"| {p.label_en} / {p.label_zh} | {p.source} |"
        )
    return "\n".join(lines) + "\n"
