"""The grid planner's interface text (中文, English), merged into :data:`pages._i18n.STRINGS`.

Topology problems and adoption errors carry a code and parameters (:mod:`spatial.topology`'s
``kind``, :class:`layers.planner.AdoptionError`'s ``code``); their sentences are here, in both
languages, so nothing the page shows stays in the other one.
"""

from __future__ import annotations

PLANNER_STRINGS: dict[str, tuple[str, str]] = {
    "planner.title": ("网格规划", "Grid planning"),
    "planner.source": ("检查对象", "Check"),
    "planner.source.current": ("当前网格", "Current grids"),
    "planner.source.upload": ("上传方案", "Upload a candidate"),
    "planner.upload": (
        "网格文件（GeoJSON、GeoPackage、GeoParquet，或 Shapefile 的 .shp/.shx/.dbf/.prj；不超过 {mb} MB）",
        "Grid file (GeoJSON, GeoPackage, GeoParquet, or a Shapefile's .shp/.shx/.dbf/.prj; at most {mb} MB)",
    ),
    "planner.upload_hint": (
        "请上传候选网格文件：每个网格一个面，字段 code（可选 name）。可先在下方导出当前网格，修改后再上传。",
        "Upload a candidate grid file: one polygon per grid, a code field (name optional). You can "
        "export the current grids below, edit them and upload them again.",
    ),
    "planner.no_grid_file": ("没有可读取的网格文件", "none of the files is a grid file"),
    "planner.checking": ("检查中…", "Checking…"),
    # topology
    "planner.clean": (
        "拓扑检查通过：{n} 个网格，无缺口、重叠、无效几何、碎片或嵌套问题。",
        "Topology is clean: {n} grids, no gap, overlap, invalid geometry, sliver or nesting problem.",
    ),
    "planner.problems": ("发现 {n} 个拓扑问题（{counts}）", "{n} topology problem(s) ({counts})"),
    "planner.problems_hint": (
        "选中一行，地图即缩放到该问题。",
        "Select a row and the map zooms to that problem.",
    ),
    "planner.col.kind": ("问题", "Problem"),
    "planner.col.level": ("层级", "Level"),
    "planner.col.codes": ("网格", "Grids"),
    "planner.col.measure": ("量", "Measure"),
    "planner.col.description": ("说明", "Description"),
    "planner.download_geojson": ("下载问题 GeoJSON", "Download problems (GeoJSON)"),
    "planner.download_csv": ("下载问题 CSV", "Download problems (CSV)"),
    "planner.unit.m2": ("m²", "m²"),
    "planner.unit.m": ("m", "m"),
    "planner.unit.vertices": ("个顶点", "vertices"),
    "planner.unit.grids": ("个网格", "grids"),
    "planner.unit.": ("", ""),
    "planner.kind.not_polygon": ("非面要素", "Not a polygon"),
    "planner.kind.bad_coordinates": ("坐标超出范围", "Coordinates out of range"),
    "planner.kind.invalid_geometry": ("无效几何", "Invalid geometry"),
    "planner.kind.duplicate_code": ("编码重复", "Duplicate code"),
    "planner.kind.malformed_code": ("编码格式错误", "Malformed code"),
    "planner.kind.wrong_prefix": ("编码前缀不符", "Wrong code prefix"),
    "planner.kind.missing_parent": ("缺少上级网格", "Missing parent"),
    "planner.kind.numbering": ("编号顺序错误", "Numbering"),
    "planner.kind.gap": ("缺口", "Gap"),
    "planner.kind.overlap": ("重叠", "Overlap"),
    "planner.kind.sliver": ("碎片", "Sliver"),
    "planner.kind.outside_parent": ("超出上级网格", "Outside its parent"),
    "planner.kind.outside_land": ("超出辖区陆域", "Outside the land"),
    "planner.kind.unexpected_multipart": ("游离部分", "Stray part"),
    "planner.kind.problem": ("问题", "Problem"),
    "planner.say.not_polygon": ("网格 {code} 不是面要素", "grid {code} is not a polygon"),
    "planner.say.bad_coordinates": (
        "网格 {code} 有 {n} 个顶点超出坐标范围（顶点损坏，或坐标系与文件声明不符）",
        "grid {code} has {n} vertices out of range (a corrupt vertex, or a CRS other than the file declares)",
    ),
    "planner.say.invalid_geometry": (
        "网格 {code} 几何无效（{measure} m²），须修复",
        "grid {code} has an invalid geometry ({measure} m²) to repair",
    ),
    "planner.say.duplicate_code": ("编码 {code} 被 {n} 个网格使用", "code {code} is carried by {n} grids"),
    "planner.say.malformed_code": ("网格编码 {code} 格式错误", "grid code {code} is malformed"),
    "planner.say.wrong_prefix": (
        "网格 {code} 的编码与上级 {other} 的编码前缀不符",
        "grid {code} does not start with the code of its parent {other}",
    ),
    "planner.say.missing_parent": (
        "网格 {code} 的上级网格 {other} 不存在或未填写",
        "grid {code}: its parent {other} is missing or not named",
    ),
    "planner.say.numbering": (
        "第 {level} 级网格 {codes} 未按自西向东、自北向南编号",
        "level-{level} grids {codes} are not numbered west→east, north→south",
    ),
    "planner.say.gap": (
        "第 {level} 级网格之间有 {measure} m² 的缺口，邻接 {codes}",
        "level {level}: a gap of {measure} m² next to {codes}",
    ),
    "planner.say.overlap": ("网格 {codes} 重叠 {measure} m²", "grids {codes} overlap by {measure} m²"),
    "planner.say.sliver": (
        "网格 {code} 过窄（厚度 {measure} m），疑为碎片",
        "grid {code} is a sliver ({measure} m thick)",
    ),
    "planner.say.outside_parent": (
        "网格 {code} 有 {measure} m² 超出上级网格 {other}",
        "grid {code}: {measure} m² lie outside its parent {other}",
    ),
    "planner.say.outside_land": (
        "网格 {code} 有 {measure} m² 超出辖区陆域",
        "grid {code}: {measure} m² lie outside the land",
    ),
    "planner.say.unexpected_multipart": (
        "网格 {code} 有 {measure} m² 的游离部分，与主体不相连",
        "grid {code}: {measure} m² in parts cut off from its main part",
    ),
    "planner.say.problem": ("网格 {codes}", "grids {codes}"),
    # map
    "planner.map.level": ("{level}级网格", "Level {level}"),
    "planner.map.before": ("调整前（当前网格）", "Before (current grids)"),
    "planner.map.after": ("调整后（方案）", "After (candidate)"),
    "planner.map.problems": ("拓扑问题", "Problems"),
    "planner.map.grid": ("网格", "Grid"),
    "planner.map.name": ("名称", "Name"),
    "planner.map.legend": (
        "地图已缩放到变更的网格：灰色虚线为调整前，橙色为调整后；图层可在右上角切换。",
        "The map is zoomed to the grids that change: dashed grey before, orange after; layers can be "
        "switched at the top right.",
    ),
    # impact
    "planner.impact": ("方案影响", "Impact of the candidate"),
    "planner.metric.reshaped": ("变更网格", "Reshaped grids"),
    "planner.metric.added_removed": ("新增 / 撤销", "Added / removed"),
    "planner.metric.components": ("改划部件", "Components moving"),
    "planner.metric.cases": ("改划在办案件", "Open cases moving"),
    "planner.identical": (
        "方案与当前第 {generation} 代网格相同（面积差不超过 {tolerance} m²、无新增、撤销或更名），无需启用。",
        "The candidate is the current generation {generation} (no grid added, removed, renamed or "
        "reshaped by more than {tolerance} m²): there is nothing to adopt.",
    ),
    "planner.reshaped": ("**变更网格**", "**Reshaped grids**"),
    "planner.added": ("**新增网格**", "**Added grids**"),
    "planner.removed": ("**撤销网格**", "**Removed grids**"),
    "planner.relabelled": ("**更名或调整归属的网格**", "**Grids renamed or moved to another parent**"),
    "planner.component_pairs": ("**部件改划（原网格 → 新网格）**", "**Components: from → to grid**"),
    "planner.case_pairs": ("**在办案件改划（原网格 → 新网格）**", "**Open cases: from → to grid**"),
    "planner.col.current": ("当前", "Current"),
    "planner.col.candidate": ("方案", "Candidate"),
    "planner.col.added": ("新增", "Added"),
    "planner.col.removed": ("撤销", "Removed"),
    "planner.col.reshaped": ("变更", "Reshaped"),
    "planner.col.unchanged": ("未变", "Unchanged"),
    "planner.col.code": ("网格编码", "Grid code"),
    "planner.col.name": ("名称", "Name"),
    "planner.col.parent": ("上级网格", "Parent"),
    "planner.col.area_km2": ("面积 km²", "Area km²"),
    "planner.col.area_before": ("原面积 m²", "Area before m²"),
    "planner.col.area_after": ("新面积 m²", "Area after m²"),
    "planner.col.area_change": ("面积变化 m²", "Area change m²"),
    "planner.col.area_change_pct": ("面积变化 %", "Area change %"),
    "planner.col.symdiff": ("变动面积 m²", "Area that changes hands m²"),
    "planner.col.field": ("字段", "Field"),
    "planner.col.before": ("原值", "Before"),
    "planner.col.after": ("新值", "After"),
    "planner.col.from": ("原网格", "From grid"),
    "planner.col.to": ("新网格", "To grid"),
    "planner.col.count": ("数量", "Count"),
    "planner.field.name": ("名称", "Name"),
    "planner.field.level": ("层级", "Level"),
    "planner.field.parent_code": ("上级网格", "Parent"),
    "planner.no_grid": ("（无网格）", "(no grid)"),
    # adoption
    "planner.adopt": ("启用新一代网格", "Adopt as a new generation"),
    "planner.adopt_planner_only": ("只有规划员可以启用新网格。", "Only a planner may adopt grids."),
    "planner.adopt_problems": (
        "方案存在拓扑问题，不能启用。",
        "The candidate has topology problems and cannot be adopted.",
    ),
    "planner.adopt_scheduled_first": (
        "第 {generation} 代网格已安排于 {valid_from} 生效；如需启用其他方案，请先在下方网格版本中撤销它。",
        "Generation {generation} is scheduled from {valid_from}; cancel it under the generations below "
        "before adopting another candidate.",
    ),
    "planner.valid_from": ("生效日期", "Valid from"),
    "planner.valid_from_help": (
        "选今天即刻生效：部件和在办案件立即按新网格改划。选以后的日期则为预定：在此之前仍使用当前网格，"
        "到期后首次打开系统（任何页面或命令）时生效并改划。",
        "Today takes effect at once: components and open cases are reassigned now. A later day "
        "schedules it: the current grids stay in use until then, and it takes effect (and the "
        "reassignment runs) the first time the store is opened, by any page or command, on or after "
        "that day.",
    ),
    "planner.note": ("说明", "Note"),
    "planner.sure": ("我已核对方案影响，确认启用", "I have checked the impact; adopt it"),
    "planner.submit": ("启用", "Adopt"),
    "planner.tick_first": ("请先勾选确认。", "Tick the confirmation first."),
    "planner.actor": ("规划员", "planner"),
    "planner.adopted": (
        "已启用第 {generation} 代网格（{valid_from} 起）：改划部件 {components:,} 个，在办案件 {cases:,} 件。",
        "Generation {generation} adopted from {valid_from}: {components:,} components and {cases:,} "
        "open cases reassigned.",
    ),
    "planner.scheduled": (
        "已安排第 {generation} 代网格于 {valid_from} 生效；在此之前仍使用第 {previous} 代网格。",
        "Generation {generation} is scheduled from {valid_from}; generation {previous} stays in use "
        "until then.",
    ),
    # generations
    "planner.generations": ("网格版本", "Grid generations"),
    "planner.col.generation": ("版本", "Generation"),
    "planner.col.valid_from": ("生效日期", "Valid from"),
    "planner.col.valid_to": ("截止日期", "Valid to"),
    "planner.col.status": ("状态", "Status"),
    "planner.col.grids": ("网格数", "Grids"),
    "planner.col.note": ("说明", "Note"),
    "planner.col.created_at": ("创建时间", "Created"),
    "planner.status.current": ("当前", "Current"),
    "planner.status.past": ("已停用", "Past"),
    "planner.status.scheduled": ("已预定", "Scheduled"),
    "planner.cancel": ("撤销预定的第 {generation} 代网格", "Cancel the scheduled generation {generation}"),
    "planner.cancelled": (
        "已撤销预定的第 {generation} 代网格。",
        "The scheduled generation {generation} was cancelled.",
    ),
    # export
    "planner.export": ("导出当前网格", "Export the current grids"),
    "planner.export_format": ("格式", "Format"),
    "planner.export_prepare": ("生成导出文件", "Prepare the file"),
    "planner.export_download": ("下载当前网格（{fmt}）", "Download the current grids ({fmt})"),
    "planner.export_hint": (
        "当前一代的全部网格（经纬度 WGS84），可在 QGIS 中修改后作为方案上传。",
        "Every grid of the current generation (lon/lat WGS84); edit it in QGIS and upload it as a candidate.",
    ),
    # adoption errors, by AdoptionError.code
    "planner.error.no_actor": ("启用网格需要填写启用人。", "an adoption needs the name of who adopts it"),
    "planner.error.not_after": (
        "生效日期 {valid_from} 须晚于当前第 {generation} 代网格的生效日期（{start}）",
        "valid-from {valid_from} must be after the start of the current generation {generation} ({start})",
    ),
    "planner.error.identical": (
        "方案与当前第 {generation} 代网格相同，无需启用",
        "the candidate is the current generation {generation}; nothing to adopt",
    ),
    "planner.error.scheduled_exists": (
        "第 {generation} 代网格已安排于 {valid_from} 生效，请先撤销",
        "generation {generation} is already scheduled from {valid_from}; cancel it first",
    ),
    "planner.error.concurrent": (
        "检查期间已有其他人启用了新网格，请重新比对",
        "another grid generation was adopted meanwhile; compare again",
    ),
    "planner.error.none_scheduled": ("没有预定的网格版本可撤销", "no grid generation is scheduled"),
    "planner.error.no_land": (
        "当前网格没有一级网格，无法确定辖区陆域",
        "the current grids have no level-1 grids",
    ),
}
