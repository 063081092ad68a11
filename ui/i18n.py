"""Every string the app shows, in English and Chinese.

Parameter labels come from the registry (``label_en`` / ``label_zh``), so a lever added there appears in both
languages without touching the app. This module holds the rest: the app's own text, sector, indicator,
group and lever-family names, and Chinese renderings of the registry's units. Lookups never fail: a group,
family or unit added to the model later falls back to a readable form of its name, because a workshop must
not stop on a missing translation. ``tests/test_app.py`` checks that both languages have every key.
"""

from __future__ import annotations

from sim.registry import Parameter

LANGS: tuple[str, ...] = ("en", "zh")
LANG_NAMES: dict[str, str] = {"en": "English", "zh": "中文"}

STRINGS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ page
    "app_title": {"en": "CityPeak · Karamay carbon peak", "zh": "CityPeak · 克拉玛依碳达峰模拟"},
    "app_question": {
        "en": "In which year do Karamay's CO2 emissions peak under these policies, at what level, and how sure are we?",
        "zh": "在这组政策下，克拉玛依的二氧化碳排放哪一年达峰？峰值多高？把握有多大？",
    },
    "language": {"en": "Language", "zh": "语言"},
    # ------------------------------------------------------------------ scenario
    "scenario": {"en": "Scenario", "zh": "情景"},
    "scenario_line": {"en": "**Scenario:** {name}", "zh": "**情景**：{name}"},
    "preset_baseline": {"en": "Current policies", "zh": "现行政策"},
    "preset_pilot": {"en": "Pilot plan", "zh": "试点方案"},
    "preset_accelerated": {"en": "Accelerated", "zh": "加速转型"},
    "preset_delayed": {"en": "Delayed implementation", "zh": "延迟实施"},
    "preset_upload": {"en": "Uploaded YAML", "zh": "上传YAML文件"},
    "upload_label": {"en": "Scenario file (YAML, at most {mb} MB)", "zh": "情景文件（YAML，不超过{mb} MB）"},
    "upload_help": {
        "en": "A scenario in the format of scenarios/*.yaml. It may inherit one of the presets by file name "
        "(inherits: karamay_pilot.yaml). Files are read with safe YAML loading and checked against the schema.",
        "zh": "格式同 scenarios/*.yaml 的情景文件；可用文件名继承预设情景（inherits: karamay_pilot.yaml）。"
        "文件以安全方式读取并按模式校验。",
    },
    "upload_error": {
        "en": "The uploaded scenario was not loaded; the app keeps using “{name}”.",
        "zh": "上传的情景未能加载，应用继续使用“{name}”。",
    },
    "upload_ok": {"en": "Using “{name}” from {file}.", "zh": "正在使用{file}中的“{name}”。"},
    "upload_waiting": {
        "en": "Upload a scenario file; until then the app shows “{name}”.",
        "zh": "请上传情景文件；在此之前显示“{name}”。",
    },
    "scenario_invalid": {
        "en": "These settings do not make a valid scenario, so the last valid one is shown:",
        "zh": "当前设置不构成有效情景，显示上一个有效情景：",
    },
    # ------------------------------------------------------------------ levers
    "levers": {"en": "Policy levers", "zh": "政策杠杆"},
    "levers_caption": {
        "en": "Sliders start at the scenario's settings. ● marks a lever set away from current policy.",
        "zh": "滑块初始为情景设置。● 表示该杠杆已偏离现行政策。",
    },
    "reset_levers": {"en": "Reset levers to the scenario", "zh": "恢复为情景设置"},
    "help_range": {
        "en": "Range {low} – {high} {unit}; current policy {default}.",
        "zh": "范围 {low} – {high} {unit}；现行政策 {default}。",
    },
    "help_source": {"en": "Source: {source}", "zh": "来源：{source}"},
    "help_no_year": {
        "en": "{high} means no such policy: any year after the simulated horizon has the same effect (none).",
        "zh": "{high}表示不实施该政策：模拟期末之后的任何年份效果相同（无影响）。",
    },
    "help_phase_in": {
        "en": "Phase-in lever: ramps from current policy in the start year to this value in the target year.",
        "zh": "分阶段杠杆：从起始年的现行政策线性过渡到目标年的此数值。",
    },
    "share_unit": {"en": "share 0–1", "zh": "比例0–1"},
    "schedule_active": {"en": "set by its year/value schedule", "zh": "由逐年设定决定"},
    "phase_in": {"en": "Phase-in", "zh": "分阶段实施"},
    "phase_in_window": {"en": "Start year → target year", "zh": "起始年 → 目标年"},
    "phase_in_help": {
        "en": "Phase-in levers (mandates, chemicals shift, transit, ...) ramp linearly from current policy in the "
        "start year to their slider value in the target year.",
        "zh": "分阶段杠杆（电气化要求、减油增化、公交改善等）从起始年的现行政策线性过渡到目标年的滑块数值。",
    },
    "schedules": {"en": "Year/value schedules (advanced)", "zh": "逐年设定（高级）"},
    "schedule_lever": {"en": "Lever", "zh": "杠杆"},
    "schedule_use": {"en": "Use a year/value schedule for this lever", "zh": "为该杠杆使用逐年设定"},
    "schedule_caption": {
        "en": "Values are interpolated linearly between the years and held flat outside them. A schedule "
        "overrides the lever's slider and the phase-in window.",
        "zh": "年份之间线性插值，范围之外保持不变。逐年设定优先于滑块和分阶段窗口。",
    },
    "schedule_error": {"en": "Schedule not used: {msg}", "zh": "逐年设定未生效：{msg}"},
    "schedule_in_use": {"en": "Schedules in use: {names}", "zh": "正在使用的逐年设定：{names}"},
    "col_year": {"en": "year", "zh": "年份"},
    "col_value": {"en": "value", "zh": "数值"},
    "carbon_price_path": {"en": "Carbon price path, all sectors (CNY/t)", "zh": "碳价路径，所有部门（元/吨）"},
    # ------------------------------------------------------------------ settings
    "settings": {"en": "Ensemble", "zh": "集合模拟"},
    "n_members": {"en": "Ensemble members", "zh": "集合成员数"},
    "n_members_help": {
        "en": "Each member draws the uncertain parameters (growth, prices, technology, behaviour) and its own "
        "random seed. More members give smoother bands and take longer.",
        "zh": "每个成员抽取一组不确定参数（增长、价格、技术、行为）和独立随机种子。成员越多，区间越平滑，耗时越长。",
    },
    "resolution": {"en": "Resolution (agents per real unit)", "zh": "分辨率（每个真实单位的智能体数）"},
    "resolution_help": {
        "en": "Agents per real household, vehicle and building. The app uses a coarse resolution so that a "
        "run is dominated by fixed costs; 1 is full scale (slow).",
        "zh": "每个真实住户、车辆和建筑对应的智能体数。应用使用较粗分辨率以加快计算；1为全尺度（较慢）。",
    },
    "seed": {"en": "Root seed", "zh": "根随机种子"},
    "seed_help": {
        "en": "The same root seed gives the same sampled futures, so scenarios are compared run by run "
        "(common random numbers).",
        "zh": "相同的根种子给出相同的抽样未来，因此情景之间可以逐次配对比较（共同随机数）。",
    },
    "workshop": {"en": "Workshop mode", "zh": "研讨会模式"},
    "workshop_help": {
        "en": "Large type and a sequence of saved scenarios to step through.",
        "zh": "大字体显示，并可逐步切换已保存的情景序列。",
    },
    # ------------------------------------------------------------------ share
    "share": {"en": "Share and download", "zh": "分享与下载"},
    "share_caption": {
        "en": "The address bar holds this view's levers and settings. This link reproduces it on this server:",
        "zh": "地址栏保存了当前视图的杠杆和设置。以下链接可在本服务器上重现该视图：",
    },
    # What a link's setting could not do (ui.state.LinkNote kinds): {name}={raw} quotes the link.
    "note_unknown": {
        "en": "{name}={raw} is not known (allowed: {allowed}); using {default}",
        "zh": "{name}={raw}无法识别（允许：{allowed}）；改用{default}",
    },
    "note_not_whole": {
        "en": "{name}={raw} is not a whole number (allowed: a whole number from {low} to {high}); using {default}",
        "zh": "{name}={raw}不是整数（允许：{low}至{high}的整数）；改用{default}",
    },
    "note_not_number": {
        "en": "{name}={raw} is not a number (allowed: a number from {low} to {high}); using {default}",
        "zh": "{name}={raw}不是数值（允许：{low}至{high}的数值）；改用{default}",
    },
    "note_range_whole": {
        "en": "{name}={raw} is out of range (allowed: a whole number from {low} to {high}); using {default}",
        "zh": "{name}={raw}超出范围（允许：{low}至{high}的整数）；改用{default}",
    },
    "note_range_number": {
        "en": "{name}={raw} is out of range (allowed: a number from {low} to {high}); using {default}",
        "zh": "{name}={raw}超出范围（允许：{low}至{high}的数值）；改用{default}",
    },
    "note_ws": {
        "en": "ws={raw} is not known (allowed: 1 for workshop mode, 0); workshop mode off",
        "zh": "ws={raw}无法识别（允许：1表示研讨会模式，0表示不使用）；不使用研讨会模式",
    },
    "note_tab": {
        "en": "tab={raw} is not known (allowed: {allowed}); opening {default}",
        "zh": "tab={raw}无法识别（允许：{allowed}）；打开{default}",
    },
    "note_phase_format": {
        "en": "phase={raw} is not START-TARGET (allowed: START-TARGET, years {first}-{last} in order);"
        " using the preset's",
        "zh": "phase={raw}不是START-TARGET格式（允许：START-TARGET，{first}–{last}年且按先后顺序）；"
        "使用预设的分阶段窗口",
    },
    "note_phase_range": {
        "en": "phase={raw} is outside the simulated years or not in order (allowed: START-TARGET, years {first}-{last}"
        " in order); using the preset's",
        "zh": "phase={raw}超出模拟年份或先后颠倒（允许：START-TARGET，{first}–{last}年且按先后顺序）；"
        "使用预设的分阶段窗口",
    },
    "note_schedule_unknown": {
        "en": "{name}: no schedulable lever of that name{hint}",
        "zh": "{name}：没有可逐年设定的同名杠杆{hint}",
    },
    "note_schedule_format": {
        "en": "{name}={raw} is not YEAR:VALUE;YEAR:VALUE... (or none); using the preset's schedule",
        "zh": "{name}={raw}不是YEAR:VALUE;YEAR:VALUE...格式（或none）；使用预设的逐年设定",
    },
    "note_schedule_invalid": {
        "en": "{name}={raw}: {error}; using the preset's schedule",
        "zh": "{name}={raw}：{error}；使用预设的逐年设定",
    },
    "note_lever_not_number": {
        "en": "{name}={raw} is not a number (allowed: {low} to {high}{unit}); using the preset's value",
        "zh": "{name}={raw}不是数值（允许：{low}至{high}{unit}）；使用预设值",
    },
    "note_lever_range": {
        "en": "{name}={raw} is outside the allowed range {low} to {high}{unit}; using the preset's value",
        "zh": "{name}={raw}超出允许范围{low}至{high}{unit}；使用预设值",
    },
    "note_not_a_key": {
        "en": "{name}={raw}: not a lever or setting{hint}",
        "zh": "{name}={raw}：不是政策杠杆或设置{hint}",
    },
    "note_hint_close": {"en": " (did you mean {keys}?)", "zh": "（是否指{keys}？）"},
    "note_hint_none": {
        "en": " (see the parameter list in docs/parameters.md)",
        "zh": "（参数列表见docs/parameters.md）",
    },
    "note_or": {"en": " or ", "zh": "或"},
    # Why a year/value table cannot be used (ui.state.check_schedule).
    "note_schedule_empty": {"en": "the table has no complete year/value row", "zh": "表中没有完整的年份/数值行"},
    "note_schedule_year": {
        "en": "year {year} is outside the simulated years {first}-{last}",
        "zh": "年份{year}不在模拟年份{first}–{last}之内",
    },
    "note_schedule_twice": {"en": "year {year} appears twice", "zh": "年份{year}出现了两次"},
    "note_schedule_value": {
        "en": "value {value} in {year} is outside the allowed range [{low}, {high}]",
        "zh": "{year}年的数值{value}超出允许范围[{low}, {high}]",
    },
    "link_notes": {
        "en": "This link holds {k} setting(s) the app cannot use. The view shows everything else; "
        "each line names the setting, the link's value and what is allowed:",
        "zh": "此链接中有{k}项设置无法使用。视图按其余设置显示；每行列出设置名称、链接中的取值和允许的取值：",
    },
    "link_notes_dismiss": {"en": "Dismiss", "zh": "知道了"},
    "share_upload_note": {
        "en": "An uploaded scenario cannot travel in a link; share its YAML file (below) instead.",
        "zh": "上传的情景无法通过链接分享；请分享下方的YAML文件。",
    },
    "download_yaml": {"en": "Scenario (YAML)", "zh": "情景文件（YAML）"},
    "download_csv": {"en": "Results (CSV)", "zh": "结果（CSV）"},
    "download_parquet": {"en": "Results (Parquet)", "zh": "结果（Parquet）"},
    "download_summary": {"en": "Run summary (CSV)", "zh": "模拟汇总（CSV）"},
    "download_chart": {"en": "Chart ({fmt})", "zh": "图表（{fmt}）"},
    "export_png": {
        "en": "Charts download as PNG (rendered offline by vl-convert).",
        "zh": "图表以PNG下载（由vl-convert离线渲染）。",
    },
    "export_html": {
        "en": "Charts download as HTML: vl-convert is not installed, so PNG export is not available.",
        "zh": "图表以HTML下载：未安装vl-convert，无法导出PNG。",
    },
    "export_html_no_cjk": {
        "en": "Charts download as HTML: the server has no font with Chinese characters for PNG export "
        "(install one, e.g. Debian's fonts-noto-cjk).",
        "zh": "图表以HTML下载：服务器没有中文字体，无法导出PNG（请安装中文字体，例如Debian的fonts-noto-cjk）。",
    },
    # ------------------------------------------------------------------ headline
    "peak_year": {"en": "Peak year", "zh": "达峰年份"},
    "interval90": {"en": "90% interval {lo} – {hi}", "zh": "90%区间 {lo} – {hi}"},
    "median_interval": {"en": "median · 90%: {lo} – {hi}", "zh": "中位数 · 90%区间：{lo} – {hi}"},
    "p_peak": {"en": "P(peak ≤ {year})", "zh": "{year}年前达峰概率"},
    "p_peak_ci": {"en": "95% CI {lo} – {hi} · {n} runs", "zh": "95%置信区间 {lo} – {hi} · {n}次模拟"},
    "peak_level": {"en": "Peak, Mt CO2", "zh": "峰值（百万吨）"},
    "emissions_2030": {"en": "2030, Mt CO2", "zh": "2030年（百万吨）"},
    "mt_per_yr": {"en": "{v:.1f}", "zh": "{v:.1f}"},
    "after_horizon": {"en": "after {year}", "zh": "{year}年后"},
    "not_peaked_share": {
        "en": "{share} of runs have not peaked by {horizon} (counted as “after {horizon}”).",
        "zh": "{share}的模拟在{horizon}年前未达峰（计为“{horizon}年后”）。",
    },
    "delta_vs": {"en": "Arrows: change against “{name}” as preset.", "zh": "箭头：相对于预设“{name}”的变化。"},
    "progress": {
        "en": "Running the ensemble: {done} of {total} members",
        "zh": "正在运行集合模拟：{done}/{total}个成员",
    },
    "running": {
        "en": "Running the ensemble of {total} members…",
        "zh": "正在运行{total}个成员的集合模拟…",
    },
    "partial_note": {
        "en": "Showing the first {k} of {n} members; refining…",
        "zh": "显示前{k}个成员（共{n}个），正在细化…",
    },
    "run_note": {
        "en": "{n} members at resolution {res:g}, root seed {seed}; {how}.",
        "zh": "{n}个成员，分辨率{res:g}，根种子{seed}；{how}。",
    },
    "run_cached": {"en": "from cache", "zh": "来自缓存"},
    "run_seconds": {"en": "computed in {s:.1f} s", "zh": "计算用时{s:.1f}秒"},
    "run_failures": {
        "en": "{k} of {n} runs failed and are left out. First error: {error}",
        "zh": "{n}次模拟中有{k}次失败，已剔除。第一个错误：{error}",
    },
    # ------------------------------------------------------------------ tabs
    "tab_results": {"en": "Results", "zh": "结果"},
    "tab_compare": {"en": "Compare", "zh": "情景对比"},
    "tab_sensitivity": {"en": "Sensitivity", "zh": "敏感性"},
    "tab_cost": {"en": "Policy cost", "zh": "政策成本"},
    # ------------------------------------------------------------------ charts
    "fan_title": {"en": "Total direct CO2 emissions", "zh": "直接二氧化碳排放总量"},
    "axis_year": {"en": "Year", "zh": "年份"},
    "axis_mt": {"en": "Mt CO2 per year", "zh": "百万吨CO2/年"},
    "band_90": {"en": "P5–P95", "zh": "P5–P95"},
    "band_50": {"en": "P25–P75", "zh": "P25–P75"},
    "median": {"en": "Median", "zh": "中位数"},
    "base_year": {"en": "Base year {year}", "zh": "基准年{year}"},
    "reference_median": {"en": "{name}: median", "zh": "{name}：中位数"},
    "target_year_rule": {"en": "{year}", "zh": "{year}年"},
    "sector_title": {"en": "Emissions by sector", "zh": "分部门排放"},
    "sector_stat": {"en": "Sector view", "zh": "部门视图"},
    "sector_mean": {"en": "Ensemble mean", "zh": "集合平均"},
    "sector_median_run": {"en": "Median run", "zh": "中位数模拟"},
    "sector_median_run_note": {
        "en": "Median run: the member whose cumulative emissions are the ensemble median (run {run}).",
        "zh": "中位数模拟：累计排放为集合中位数的成员（第{run}次）。",
    },
    "sector_legend": {"en": "Sector", "zh": "部门"},
    "peak_hist_title": {"en": "Peak-year probability", "zh": "达峰年份概率分布"},
    "axis_probability": {"en": "Probability", "zh": "概率"},
    "not_peaked": {"en": "not peaked", "zh": "未达峰"},
    "ecdf_title": {"en": "Probability of having peaked by each year", "zh": "截至各年已达峰的概率"},
    "axis_p_peaked": {"en": "P(peaked by year)", "zh": "截至当年已达峰概率"},
    "scenario_legend": {"en": "Scenario", "zh": "情景"},
    # ------------------------------------------------------------------ scorecard
    "scorecard_title": {"en": "Pilot plan scorecard", "zh": "试点方案指标核对"},
    "scorecard_caption": {
        "en": "Projected values across the ensemble against the pilot implementation plan (2024). P(met): share "
        "of runs within 2% of the target or better.",
        "zh": "集合模拟的预测值与试点实施方案（2024）目标对比。达标概率：达到或接近目标（差距2%以内）的模拟比例。",
    },
    "col_indicator": {"en": "Indicator", "zh": "指标"},
    "col_projected": {"en": "Projected (median)", "zh": "预测值（中位数）"},
    "col_band": {"en": "90% band", "zh": "90%区间"},
    "col_target": {"en": "Target", "zh": "目标"},
    "col_p_met": {"en": "P(met)", "zh": "达标概率"},
    "target_peak_before": {"en": "peak before {year}", "zh": "{year}年前达峰"},
    "target_plateau_by": {"en": "plateau by {year}", "zh": "{year}年前进入平台期"},
    "peak_year_value": {"en": "peak {year}", "zh": "{year}年达峰"},
    "plateau_year_value": {"en": "plateau from {year}", "zh": "{year}年起平台期"},
    # ------------------------------------------------------------------ compare
    "compare_pick": {"en": "Scenarios to compare (two to four)", "zh": "对比情景（2至4个）"},
    "compare_current": {"en": "Current settings", "zh": "当前设置"},
    "compare_need_two": {"en": "Pick two to four scenarios.", "zh": "请选择2至4个情景。"},
    "compare_reference": {"en": "Reference for paired differences", "zh": "配对差值的参照情景"},
    "compare_fan_title": {"en": "Total direct emissions: median and P5–P95", "zh": "直接排放总量：中位数与P5–P95"},
    "compare_ecdf_title": {"en": "Probability of having peaked by each year", "zh": "截至各年已达峰的概率"},
    "compare_table": {"en": "Headline by scenario", "zh": "各情景主要结果"},
    "col_scenario": {"en": "Scenario", "zh": "情景"},
    "col_peak_year": {"en": "Peak year, median [P5, P95]", "zh": "达峰年份，中位数[P5, P95]"},
    "col_p_peak": {"en": "P(peak ≤ 2030)", "zh": "2030年前达峰概率"},
    "col_2030": {"en": "2030 emissions, Mt (median)", "zh": "2030年排放，百万吨（中位数）"},
    "col_cumulative": {"en": "Cumulative 2025–2060, Mt (median)", "zh": "2025–2060累计，百万吨（中位数）"},
    "paired_title": {"en": "Paired differences against “{ref}”", "zh": "与“{ref}”的配对差值"},
    "paired_caption": {
        "en": "Every scenario is run with the same root seed, ensemble size and resolution, so run k has the same "
        "sampled futures and random seed in each: differences are due to the policies, not to luck (common "
        "random numbers). Δ = scenario minus reference.",
        "zh": "各情景使用相同的根种子、成员数和分辨率，第k次模拟在各情景中具有相同的抽样未来和随机种子，"
        "因此差值来自政策而非随机性（共同随机数）。Δ=情景减参照情景。",
    },
    "col_p_earlier": {"en": "P(peaks earlier)", "zh": "更早达峰的概率"},
    "col_p_later": {"en": "P(peaks later)", "zh": "更晚达峰的概率"},
    "col_d2030": {"en": "Δ 2030 emissions, Mt: median [P5, P95]", "zh": "2030年排放差，百万吨：中位数[P5, P95]"},
    "col_dcum": {"en": "Δ cumulative 2025–2060, Mt: median [P5, P95]", "zh": "累计排放差，百万吨：中位数[P5, P95]"},
    "paired_chart_title": {
        "en": "Paired difference in cumulative emissions 2025–2060 vs “{ref}”",
        "zh": "2025–2060累计排放与“{ref}”的配对差值",
    },
    "axis_dcum": {"en": "Δ cumulative emissions, Mt CO2", "zh": "累计排放差，百万吨CO2"},
    "axis_runs": {"en": "Runs", "zh": "模拟次数"},
    # ------------------------------------------------------------------ sensitivity
    "sens_source": {"en": "Indices", "zh": "指数来源"},
    "sens_quick": {"en": "Quick Morris screening (computed here)", "zh": "快速Morris筛选（本地计算）"},
    "sens_sweep": {"en": "Sweep result: {path}", "zh": "扫描结果：{path}"},
    "sens_no_sweep": {
        "en": "No sweep result (indices.parquet) under results/; a quick Morris screening is run instead. "
        "`citypeak sweep` writes a full Sobol analysis that this tab then shows.",
        "zh": "results/下没有扫描结果（indices.parquet），改为运行快速Morris筛选。"
        "`citypeak sweep`可生成完整的Sobol分析，本页随后会显示。",
    },
    "sens_params": {"en": "Uncertainties to screen", "zh": "筛选的不确定参数"},
    "sens_trajectories": {"en": "Morris trajectories", "zh": "Morris轨迹数"},
    "sens_output": {"en": "Output", "zh": "输出"},
    "sens_index": {"en": "Index", "zh": "指数"},
    "sens_note": {
        "en": "Morris screening of the current scenario: {runs} runs at resolution {res:g}, one seed, other "
        "parameters at their central values. μ\\* ranks parameters by their mean absolute effect; it does not "
        "apportion variance. Bars show the 95% bootstrap CI, cut at zero (μ\\* cannot be negative).",
        "zh": "对当前情景的Morris筛选：{runs}次模拟，分辨率{res:g}，单一种子，其他参数取中心值。"
        "μ\\*按平均绝对效应排序，不分解方差。误差线为95%自助法置信区间，下限截于零（μ\\*不可能为负）。",
    },
    "sens_constant": {
        "en": "“{output}” does not vary across the design (always {value:g}); nothing to rank.",
        "zh": "“{output}”在设计中不变（恒为{value:g}），无法排序。",
    },
    "sens_constant_others": {
        "en": "These outputs do vary and can be ranked: {others}.",
        "zh": "以下输出有变化，可以排序：{others}。",
    },
    "sens_constant_none": {
        "en": "No output varies across this design: widen the uncertainties screened or move the levers.",
        "zh": "此设计中所有输出均不变：请增加筛选的不确定参数或调整杠杆。",
    },
    "sens_bad_file": {"en": "Cannot read {path}: {msg}", "zh": "无法读取{path}：{msg}"},
    "sens_need_two": {"en": "Pick at least two uncertainties.", "zh": "请至少选择两个不确定参数。"},
    "axis_index": {"en": "Index value", "zh": "指数值"},
    "tooltip_ci95": {"en": "± 95% CI", "zh": "±95%置信区间"},
    "tooltip_ci_low": {"en": "95% CI, low", "zh": "95%置信区间下限"},
    "tooltip_ci_high": {"en": "95% CI, high", "zh": "95%置信区间上限"},
    "axis_parameter": {"en": "Parameter", "zh": "参数"},
    "out_peak_year": {"en": "Peak year", "zh": "达峰年份"},
    "out_emissions_2030_mt": {"en": "2030 emissions", "zh": "2030年排放"},
    "out_cumulative_mt": {"en": "Cumulative 2025–2060", "zh": "2025–2060累计排放"},
    "out_peak_mt": {"en": "Peak level", "zh": "峰值排放"},
    # ------------------------------------------------------------------ cost
    "cost_caption": {
        "en": "What each lever family set away from current policy achieves and costs: one run at central "
        "values (seed {seed}, resolution {res:g}) against the same run with that family at current policy. "
        "Cost per tonne = (fiscal + private cost) / tonnes avoided; carbon revenue is a transfer, shown beside it.",
        "zh": "每个偏离现行政策的杠杆组的效果与成本：中心参数下的一次模拟（种子{seed}，分辨率{res:g}），"
        "与该杠杆组恢复现行政策的同一模拟对比。单位减排成本=（财政成本+私人成本）/减排量；碳收入属于转移支付，单独列出。",
    },
    "cost_none": {
        "en": "Every lever is at current policy: there is nothing to cost. Move a lever or pick another scenario.",
        "zh": "所有杠杆均为现行政策，没有可核算的成本。请调整杠杆或选择其他情景。",
    },
    "col_family": {"en": "Lever family", "zh": "杠杆组"},
    # A lever family and its note of sim.levers.FAMILY_LIMITATIONS, under the Policy cost table.
    "limitation_line": {"en": "**{family}**: {text}", "zh": "**{family}**：{text}"},
    "col_avoided": {"en": "Avoided 2025–2060, Mt", "zh": "2025–2060减排量，百万吨"},
    "col_fiscal": {"en": "Fiscal cost, M CNY", "zh": "财政成本，百万元"},
    "col_private": {"en": "Private cost, M CNY", "zh": "私人成本，百万元"},
    "col_revenue": {"en": "Carbon revenue, M CNY", "zh": "碳收入，百万元"},
    "col_per_t": {"en": "Cost per tonne, CNY/t", "zh": "单位减排成本，元/吨"},
    "col_peak_with": {"en": "Peak year with", "zh": "实施时达峰年"},
    "col_peak_without": {"en": "Peak year without", "zh": "不实施时达峰年"},
    "cost_avoided_title": {"en": "Emissions avoided 2025–2060 by lever family", "zh": "各杠杆组2025–2060减排量"},
    "cost_per_t_title": {"en": "Cost per tonne avoided", "zh": "单位减排成本"},
    "axis_avoided": {"en": "Avoided, Mt CO2", "zh": "减排量，百万吨CO2"},
    "axis_per_t": {"en": "CNY per tonne CO2", "zh": "元/吨CO2"},
    "computing": {"en": "Computing…", "zh": "正在计算…"},
    # ------------------------------------------------------------------ discovery
    "tab_discovery": {"en": "Discovery", "zh": "情景发现"},
    "disc_intro": {
        "en": "Which lever settings make the city peak in time, and what is the cheapest package that does? "
        "Scenario discovery (`citypeak discover`) varies levers and uncertainties together and finds boxes of "
        "lever settings where the city mostly peaks by the deadline (PRIM); target search (`citypeak target`) "
        "finds the cheapest package that meets a probability target.",
        "zh": "哪些杠杆组合能让城市按时达峰？满足目标的最低成本政策组合是什么？情景发现（`citypeak discover`）"
        "同时改变杠杆和不确定参数，用PRIM找出大多数模拟按期达峰的杠杆区域（方框）；"
        "目标搜索（`citypeak target`）寻找满足概率目标的最低成本政策组合。",
    },
    "disc_source": {"en": "Result folder", "zh": "结果文件夹"},
    "disc_path": {"en": "…or a folder path", "zh": "…或输入文件夹路径"},
    "disc_path_only": {"en": "Results folder path", "zh": "结果文件夹路径"},
    "disc_path_help": {
        "en": "A folder written by `citypeak discover --out` (boxes.parquet) or `citypeak target --out` "
        "(target.json). Relative paths are read from the folder the app was started in.",
        "zh": "由`citypeak discover --out`（boxes.parquet）或`citypeak target --out`（target.json）"
        "生成的文件夹。相对路径以应用启动时所在的文件夹为起点。",
    },
    "disc_path_bad": {
        "en": "{path} holds neither boxes.parquet nor target.json.",
        "zh": "{path}中既没有boxes.parquet，也没有target.json。",
    },
    "disc_none": {
        "en": "No discovery or target-search results under results/. Run `citypeak discover` or "
        "`citypeak target` with `--out results/...`, or run a quick discovery below.",
        "zh": "results/下没有情景发现或目标搜索结果。请用`--out results/...`运行`citypeak discover`"
        "或`citypeak target`，或在下方运行一次快速情景发现。",
    },
    "disc_bad": {"en": "Cannot read {path}: {msg}", "zh": "无法读取{path}：{msg}"},
    "disc_meta": {
        "en": "Scenario “{name}” · {runs} runs at resolution {res:g}",
        "zh": "情景“{name}” · {runs}次模拟，分辨率{res:g}",
    },
    "disc_boxes_title": {"en": "Where the city peaks by {year}", "zh": "{year}年前达峰的杠杆区域"},
    "disc_no_boxes": {
        "en": "No box found: the outcome is too rare or too common in these runs for PRIM to separate it.",
        "zh": "未找到方框：该结果在这些模拟中过于少见或过于普遍，PRIM无法区分。",
    },
    "disc_box": {"en": "Box {k}", "zh": "方框{k}"},
    "disc_box_sentence": {
        "en": "{conds}: peaks by {year} in **{density}** of runs, covering **{coverage}** of such runs "
        "({n} runs in the box).",
        "zh": "{conds}：在{year}年前达峰的模拟占**{density}**，覆盖全部此类模拟的**{coverage}**（方框内{n}次模拟）。",
    },
    "disc_and": {"en": " and ", "zh": "，且"},
    # Between the items of a list in running text, and between items that have their own commas; Chinese
    # lists take the enumeration comma and the full-width semicolon.
    "list_sep": {"en": ", ", "zh": "、"},
    "item_sep": {"en": "; ", "zh": "；"},
    "disc_any": {"en": "any setting of the levers", "zh": "任意杠杆设置"},
    "disc_ge": {"en": "{label} ≥ {v} {unit}", "zh": "{label} ≥ {v}{unit}"},
    "disc_le": {"en": "{label} ≤ {v} {unit}", "zh": "{label} ≤ {v}{unit}"},
    "disc_between": {"en": "{label} between {lo} and {hi} {unit}", "zh": "{label}介于{lo}与{hi}{unit}之间"},
    "col_box": {"en": "Box", "zh": "方框"},
    "col_density": {"en": "Density", "zh": "密度"},
    "col_coverage": {"en": "Coverage", "zh": "覆盖率"},
    "col_box_runs": {"en": "Runs in box", "zh": "方框内模拟数"},
    "disc_box_caption": {
        "en": "Density: share of the runs in the box that peak by {year}. Coverage: share of all runs that "
        "peak by {year} which fall in the box. A box is an average over its settings and the uncertainties: "
        "a package at its edge can do worse than its density.",
        "zh": "密度：方框内模拟中在{year}年前达峰的比例。覆盖率：全部在{year}年前达峰的模拟中落在方框内的比例。"
        "方框结果是对其杠杆区间和不确定性的平均，位于边缘的组合可能低于该密度。",
    },
    "disc_pick_box": {"en": "Box to load", "zh": "要载入的方框"},
    "disc_box_loads": {"en": "Loads: {items}", "zh": "将设置：{items}"},
    "disc_load": {"en": "Load into levers", "zh": "载入政策杠杆"},
    "disc_load_box_help": {
        "en": "Sets each lever the box restricts to the box's threshold on the ambitious side (e.g. carbon "
        "price ≥ 150 → 150): the least ambitious setting the box allows. Other levers keep their values.",
        "zh": "将方框限制的每个杠杆设为方框在更积极一侧的阈值（如碳价 ≥ 150 → 150），即方框允许的最低力度。"
        "其他杠杆保持不变。",
    },
    "disc_loaded": {
        "en": "Loaded {what} into the levers; the headline above shows it.",
        "zh": "已将{what}载入政策杠杆，上方主要结果已更新。",
    },
    "disc_loaded_box": {"en": "box {k}", "zh": "方框{k}"},
    "disc_loaded_package": {"en": "the cheapest package", "zh": "最低成本组合"},
    "disc_target_title": {"en": "Cheapest package found", "zh": "找到的最低成本组合"},
    "disc_target_text": {
        "en": "Target: peak by {year} with probability ≥ {p}.",
        "zh": "目标：{year}年前达峰的概率 ≥ {p}。",
    },
    "disc_target_raw": {"en": "Target: {text}.", "zh": "目标：{text}。"},
    "disc_target_none": {
        "en": "No package within the lever ranges met the target ({runs} runs spent).",
        "zh": "在杠杆范围内没有组合达到目标（已用{runs}次模拟）。",
    },
    "disc_target_summary": {
        "en": "Cost **{cost} M CNY** (fiscal + private, summed over the years, mean over {members} futures) · "
        "P(peak ≤ {year}) **{p}** (95% CI {lo} – {hi}) · {runs} runs spent",
        "zh": "成本**{cost}百万元**（财政+私人，逐年加总，{members}个未来情景的平均）· "
        "{year}年前达峰概率**{p}**（95%置信区间 {lo} – {hi}）· 共用{runs}次模拟",
    },
    "col_lever": {"en": "Lever", "zh": "杠杆"},
    "col_package": {"en": "Package", "zh": "组合取值"},
    "col_now": {"en": "Now in the sidebar", "zh": "当前侧栏取值"},
    "col_policy": {"en": "Current policy", "zh": "现行政策"},
    "col_searched": {"en": "Range searched", "zh": "搜索范围"},
    "disc_load_target_help": {
        "en": "Sets the package's levers; other levers keep their values (the search varied only these).",
        "zh": "设置该组合中的杠杆；其他杠杆保持不变（搜索只改变了这些杠杆）。",
    },
    "disc_cand_title": {"en": "Packages evaluated: cost and probability", "zh": "已评估组合：成本与概率"},
    "axis_cost_mcny": {"en": "Mean cost, M CNY", "zh": "平均成本，百万元"},
    "axis_p_target": {"en": "P(peak ≤ {year})", "zh": "{year}年前达峰概率"},
    "disc_cand_ok": {"en": "meets the target", "zh": "达到目标"},
    "disc_cand_miss": {"en": "misses it", "zh": "未达到"},
    "disc_cand_legend": {"en": "Package", "zh": "组合"},
    "disc_run_title": {"en": "Quick discovery on the current settings", "zh": "基于当前设置的快速情景发现"},
    "disc_run_caption": {
        "en": "Runs `sim.discovery.discover` here: the levers you pick are sampled over their ranges together "
        "with the scenario's uncertainties (Latin hypercube), every other lever keeps its sidebar value; "
        "resolution {res:g}, root seed {seed}. A few hundred runs give coarse boxes; use `citypeak discover` "
        "with thousands of runs for a report.",
        "zh": "在此运行`sim.discovery.discover`：所选杠杆在其范围内与情景的不确定参数一起抽样（拉丁超立方），"
        "其他杠杆保持侧栏取值；分辨率{res:g}，根种子{seed}。几百次模拟只能给出粗略方框；"
        "正式报告请用`citypeak discover`运行数千次模拟。",
    },
    "disc_levers": {"en": "Levers to vary (two to four)", "zh": "改变的杠杆（2至4个）"},
    "disc_runs": {"en": "Runs", "zh": "模拟次数"},
    "disc_peak_by": {"en": "Peak by", "zh": "达峰年份不晚于"},
    "disc_ranges": {"en": "Ranges sampled: {items}", "zh": "抽样范围：{items}"},
    "disc_need_two": {"en": "Pick two to four levers.", "zh": "请选择2至4个杠杆。"},
    "disc_scheduled": {
        "en": "Levers set by a year/value schedule are not offered: the schedule would override them.",
        "zh": "由逐年设定决定的杠杆不在可选范围内：逐年设定会覆盖其取值。",
    },
    "disc_run": {"en": "Run discovery", "zh": "运行情景发现"},
    "disc_progress": {
        "en": "Running the discovery ensemble: {done} of {total} runs",
        "zh": "正在运行情景发现集合：{done}/{total}次模拟",
    },
    "disc_prim": {"en": "Finding boxes (PRIM)…", "zh": "正在寻找方框（PRIM）…"},
    "disc_done": {
        "en": "Discovery finished: {runs} runs in {s:.0f} s; peaks by {year} in {share} of them. Results in {path}.",
        "zh": "情景发现完成：{runs}次模拟，用时{s:.0f}秒；其中{share}在{year}年前达峰。结果保存在{path}。",
    },
    "disc_failed": {"en": "The discovery run failed: {msg}", "zh": "情景发现运行失败：{msg}"},
    # ------------------------------------------------------------------ workshop
    "ws_sequence": {"en": "Workshop sequence", "zh": "研讨会情景序列"},
    "ws_prev": {"en": "◀ Previous", "zh": "◀ 上一步"},
    "ws_next": {"en": "Next ▶", "zh": "下一步 ▶"},
    "ws_step": {"en": "Step {i} of {n}: {name}", "zh": "第{i}步/共{n}步：{name}"},
    "ws_save": {"en": "Save current settings as a step", "zh": "将当前设置保存为一步"},
    "ws_name": {"en": "Name of the step", "zh": "步骤名称"},
    "ws_default_name": {"en": "My scenario {i}", "zh": "我的情景{i}"},
    "ws_reset": {"en": "Reset the sequence to the four presets", "zh": "将序列恢复为四个预设情景"},
}

SECTORS: dict[str, dict[str, str]] = {
    "power_heat": {"en": "Power and heat", "zh": "电力与热力"},
    "refining": {"en": "Refining", "zh": "炼油"},
    "petrochemicals": {"en": "Petrochemicals", "zh": "石化"},
    "industry": {"en": "Other industry", "zh": "其他工业"},
    "transport": {"en": "Transport", "zh": "交通"},
    "buildings": {"en": "Buildings", "zh": "建筑"},
    "oilfield": {"en": "Oilfield", "zh": "油田"},
    "waste": {"en": "Waste", "zh": "废弃物"},
    "hydrogen": {"en": "Hydrogen", "zh": "氢能"},
    "data_centres": {"en": "Data centres", "zh": "数据中心"},
    "sinks": {"en": "Carbon sinks", "zh": "碳汇"},
    "ccus": {"en": "CCUS", "zh": "碳捕集利用与封存"},
}

INDICATORS: dict[str, dict[str, str]] = {
    "non_fossil_capacity_share": {"en": "Non-fossil share of power capacity", "zh": "非化石能源装机占比"},
    "non_fossil_energy_share": {"en": "Non-fossil share of energy use", "zh": "非化石能源消费比重"},
    "electricity_share_of_final_energy": {"en": "Electricity share of final energy", "zh": "电能占终端能源消费比重"},
    "green_travel_share": {"en": "Green travel share", "zh": "绿色出行比例"},
    "waste_resource_utilisation_share": {"en": "Household waste resource utilisation", "zh": "生活垃圾资源化利用率"},
    "buildings_peak": {"en": "Buildings emissions", "zh": "城乡建设领域排放"},
    "transport_plateau": {"en": "Transport emissions", "zh": "交通领域排放"},
}

GROUPS: dict[str, dict[str, str]] = {
    "carbon_price": {"en": "Carbon price", "zh": "碳价"},
    "subsidies": {"en": "Subsidies", "zh": "补贴"},
    "mandates": {"en": "Electrification mandates", "zh": "电气化要求"},
    "power_policy": {"en": "Power, coal and caps", "zh": "电力、煤电与总量控制"},
    "industry_policy": {"en": "Industry and oilfield", "zh": "工业与油田"},
    "transport_policy": {"en": "Transport", "zh": "交通"},
    "ccus_policy": {"en": "CCUS", "zh": "碳捕集利用与封存"},
    "hydrogen_policy": {"en": "Hydrogen", "zh": "氢能"},
    "waste_policy": {"en": "Waste", "zh": "废弃物"},
    "sinks_policy": {"en": "Carbon sinks", "zh": "碳汇"},
    "demand": {"en": "Demand", "zh": "需求"},
    "industry": {"en": "Industry", "zh": "工业"},
    "transport": {"en": "Transport", "zh": "交通"},
    "buildings": {"en": "Buildings", "zh": "建筑"},
    "prices": {"en": "Prices", "zh": "价格"},
    "power": {"en": "Power", "zh": "电力"},
    "technology": {"en": "Technology", "zh": "技术"},
    "behaviour": {"en": "Behaviour", "zh": "行为"},
}

FAMILIES: dict[str, dict[str, str]] = {
    "carbon_price": {"en": "Carbon price", "zh": "碳价"},
    "ev_subsidy": {"en": "EV subsidy", "zh": "电动车补贴"},
    "heat_pump_subsidy": {"en": "Heat pump subsidy", "zh": "热泵补贴"},
    "rooftop_pv_subsidy": {"en": "Rooftop PV subsidy", "zh": "屋顶光伏补贴"},
    "retrofit_subsidy": {"en": "Building retrofit subsidy", "zh": "建筑节能改造补贴"},
    "green_h2_subsidy": {"en": "Green hydrogen subsidy", "zh": "绿氢补贴"},
    "ccus_subsidy": {"en": "CCUS subsidy", "zh": "CCUS补贴"},
    "bus_mandate": {"en": "Electric buses", "zh": "公交电动化"},
    "taxi_mandate": {"en": "Electric taxis", "zh": "出租车电动化"},
    "light_truck_mandate": {"en": "Electric logistics vans", "zh": "物流车电动化"},
    "heavy_truck_mandate": {"en": "Electric heavy trucks", "zh": "重卡电动化"},
    "electric_heating_mandate": {"en": "Electric heating", "zh": "电采暖"},
    "industry_electrification": {"en": "Industrial electrification", "zh": "工业电气化"},
    "coal_phase_out": {"en": "Coal phase-out", "zh": "煤电退出"},
    "coal_retrofits": {"en": "Coal unit retrofits", "zh": "煤电三改联动"},
    "renewable_target": {"en": "Wind + solar target", "zh": "风光装机目标"},
    "storage_requirement": {"en": "Storage pairing", "zh": "新能源配储"},
    "ccus_mandate": {"en": "Refinery CCUS", "zh": "炼厂CCUS"},
    "chemicals_shift": {"en": "Reduce oil, add chemicals", "zh": "减油增化"},
    "efficiency_standards": {"en": "Efficiency standards", "zh": "能效标准"},
    "green_travel": {"en": "Green travel", "zh": "绿色出行"},
    "emissions_cap": {"en": "Emissions cap", "zh": "碳排放总量控制"},
}

UNITS_ZH: dict[str, str] = {
    "year": "年",
    "M CNY": "百万元",
    "CNY/t": "元/吨",
    "CNY/t CO2": "元/吨CO2",
    "CNY/vehicle": "元/辆",
    "CNY/m2": "元/平方米",
    "CNY/W": "元/瓦",
    "CNY/kg H2": "元/千克氢",
    "CNY/GJ": "元/吉焦",
    "CNY/MWh": "元/兆瓦时",
    "GW": "吉瓦",
    "Mt CO2": "百万吨CO2",
    "Mt/yr": "百万吨/年",
    "%/yr": "%/年",
    "%-pt": "百分点",
    "%-pt/yr": "百分点/年",
    "%-pt/decade": "百分点/十年",
    "%/decade": "%/十年",
    "utils": "效用单位",
    "ha/yr": "公顷/年",
    "kt H2/yr": "千吨氢/年",
    "kWh/100 km": "千瓦时/百公里",
    "cars/1000 people": "辆/千人",
    "x 2024": "×2024年",
    "x test": "×测试值",
    "x": "倍",
    "1/yr": "1/年",
    "1/(10k CNY/yr)": "1/（万元/年）",
    "MW/yr": "兆瓦/年",
    "t/MWh": "吨/兆瓦时",
    "agents per real unit": "每个真实单位的智能体数",
}


def t(key: str, lang: str, **fmt: object) -> str:
    """The string ``key`` in ``lang``, formatted with ``fmt``.

    An unknown key returns the key itself rather than raising: a missing string must show up as an odd
    label in the app (and fail the key-coverage test), not as a crashed workshop.
    """
    entry = STRINGS.get(key)
    text = key if entry is None else entry.get(lang) or entry["en"]
    return text.format(**fmt) if fmt else text


def _named(table: dict[str, dict[str, str]], name: str, lang: str) -> str:
    entry = table.get(name)
    if entry is not None:
        return entry.get(lang) or entry["en"]
    return name.replace("_", " ").capitalize()


def sector_label(name: str, lang: str) -> str:
    """Display name of a model sector."""
    return _named(SECTORS, name, lang)


def indicator_label(name: str, lang: str) -> str:
    """Display name of a pilot-plan indicator."""
    return _named(INDICATORS, name, lang)


def group_label(name: str, lang: str) -> str:
    """Display name of a registry group (the sidebar section of a lever)."""
    return _named(GROUPS, name, lang)


def family_label(name: str, lang: str, first_lever: Parameter | None = None) -> str:
    """Display name of a lever family of :data:`sim.levers.LEVER_FAMILIES`.

    A family added to the model after this table was written is named after its first lever's registry
    label, which is already bilingual.
    """
    if name not in FAMILIES and first_lever is not None:
        return first_lever.label_zh if lang == "zh" else first_lever.label_en
    return _named(FAMILIES, name, lang)


def unit_label(unit: str, lang: str) -> str:
    """A registry unit for display: ``-`` (a share) becomes "share 0–1"; Chinese gets Chinese units."""
    if unit in ("-", ""):
        return t("share_unit", lang)
    return UNITS_ZH.get(unit, unit) if lang == "zh" else unit


def param_label(p: Parameter, lang: str, with_unit: bool = True) -> str:
    """A registry parameter's label in ``lang``, with its unit in brackets."""
    label = p.label_zh if lang == "zh" else p.label_en
    if not with_unit:
        return label
    return f"{label} ({unit_label(p.unit, lang)})" if lang == "en" else f"{label}（{unit_label(p.unit, lang)}）"


NO_POLICY_YEAR = 2100
"""A year lever at this value (its slider's top) means the policy never applies (see the registry's sources)."""


def param_help(p: Parameter, lang: str) -> str:
    """Tooltip of a lever: guidance, range and current-policy value, source.

    The registry gives each lever's guidance in both languages (``guidance_zh``; English where an entry has
    no Chinese); sources are citations and shown as written.
    """
    guidance = (p.guidance_zh if lang == "zh" else None) or p.guidance
    parts = [guidance] if guidance else []
    if p.unit == "year" and p.high >= NO_POLICY_YEAR:
        # The sentinel is explained in the English source too, but a Chinese reader needs it in Chinese.
        parts.append(t("help_no_year", lang, high=format_value(p, p.high)))
    if p.extra.get("phase_in"):
        parts.append(t("help_phase_in", lang))
    parts.append(
        t(
            "help_range",
            lang,
            low=format_value(p, p.low),
            high=format_value(p, p.high),
            unit=unit_label(p.unit, lang),
            default=format_value(p, p.default),
        )
    )
    parts.append(t("help_source", lang, source=p.source))
    return "\n\n".join(parts)


def format_value(p: Parameter, value: float) -> str:
    """A parameter value as text: whole numbers without decimals, others with up to three significant places."""
    if p.unit == "year":  # a calendar year, not a quantity: no thousands separator
        return f"{value:.0f}"
    if p.integer or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"
