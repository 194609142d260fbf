"""The surveyor's interface text (中文, English), merged into :data:`pages._i18n.STRINGS`.

The survey layer's errors carry a code and parameters (:func:`layers.survey._base.coded`); their
sentences are the ``error.<code>`` keys here, shown by :func:`pages._common.show_error`. Reject
reasons of a batch are :data:`layers.survey.REASONS`, in both languages already.
"""

from __future__ import annotations

SURVEY_STRINGS: dict[str, tuple[str, str]] = {
    "survey.title": ("部件普查", "Component survey"),
    "survey.actor": ("测绘员", "Surveyor"),
    "survey.tab_one": ("单个部件", "One component"),
    "survey.tab_batch": ("批量上传", "Batch upload"),
    # finding
    "survey.find": ("查找部件", "Find a component"),
    "survey.q_code": ("部件编码（或前缀）", "Component code (or prefix)"),
    "survey.q_grid": ("网格（编码或名称）", "Grid (code or name)"),
    "survey.q_class": ("部件类别（编码或名称，如 井盖）", "Class (code or Chinese name, e.g. 井盖)"),
    "survey.q_hint": (
        "可按编码、网格、类别查找，条件可组合。",
        "Search by code, grid or class; conditions combine. Class names are the standard's official "
        "Chinese names.",
    ),
    "survey.none_found": ("没有找到部件", "No component found"),
    "survey.truncated": (
        "仅显示前 {limit} 个，请缩小范围",
        "Only the first {limit} are shown; narrow the search",
    ),
    "survey.found": ("找到 {n} 个部件", "{n} components found"),
    "survey.pick": ("选择部件", "Choose a component"),
    "survey.load": ("载入", "Load"),
    # columns
    "survey.col.code": ("部件编码", "Component code"),
    "survey.col.class": ("类别", "Class"),
    "survey.col.class_code": ("类别编码", "Class code"),
    "survey.col.grid": ("网格", "Grid"),
    "survey.col.grid_code": ("网格编码", "Grid code"),
    "survey.col.state": ("状态", "State"),
    "survey.col.changed_on": ("变更日期", "Changed on"),
    "survey.col.version": ("版本", "Version"),
    "survey.col.id": ("编号", "No."),
    "survey.col.at": ("时间", "Time"),
    "survey.col.actor": ("操作人", "By"),
    "survey.col.action": ("操作", "Action"),
    "survey.col.state_change": ("状态变化", "State"),
    "survey.col.grid_change": ("网格变化", "Grid"),
    "survey.col.moved": ("移动距离（米）", "Moved (m)"),
    "survey.col.reason": ("原因", "Reason"),
    "survey.col.row": ("行", "Row"),
    "survey.col.old_grid": ("原网格", "Old grid"),
    "survey.col.new_grid": ("新网格", "New grid"),
    "survey.col.note": ("备注", "Note"),
    "survey.col.x_in": ("x / 经度（原文）", "x / lon (as received)"),
    "survey.col.y_in": ("y / 纬度（原文）", "y / lat (as received)"),
    "survey.col.reasons": ("拒绝原因", "Reasons"),
    # workspace
    "survey.component": ("部件 {code}", "Component {code}"),
    "survey.changed_by_other": (
        "此部件已被他人修改：您看到的是版本 {seen}，当前为版本 {version}。",
        "Someone changed this component: you saw version {seen}, it is now version {version}.",
    ),
    "survey.reload": ("载入最新版本", "Load the current version"),
    "survey.current_record": (
        "当前记录：版本 {version}，状态 {state}，网格 {grid}",
        "Current record: version {version}, state {state}, grid {grid}",
    ),
    "survey.m.state": ("状态", "State"),
    "survey.m.grid": ("网格", "Grid"),
    "survey.m.version": ("版本", "Version"),
    "survey.m.class": ("类别", "Class"),
    "survey.official_name": ("{name}（标准中文名）", "{name} (official Chinese name)"),
    "survey.bodies": (
        "主管部门：{supervisor} · 权属单位：{owner} · 养护单位：{maintainer}",
        "Supervising department: {supervisor} · Owner: {owner} · Maintainer: {maintainer}",
    ),
    "survey.dates": (
        "普查日期：{surveyed} · 最近变更：{changed} · 数据来源：{source}",
        "Surveyed on {surveyed} · last changed {changed} · source: {source}",
    ),
    "survey.none": ("未登记", "not recorded"),
    "survey.position": (
        "x = {x:.3f} m，y = {y:.3f} m（EPSG:4549）· 经度 {lon:.6f}，纬度 {lat:.6f}（WGS84）",
        "x = {x:.3f} m, y = {y:.3f} m (EPSG:4549) · lon {lon:.6f}, lat {lat:.6f} (WGS84)",
    ),
    "survey.map_grid": ("网格", "Grid"),
    "survey.map_name": ("名称", "Name"),
    "survey.map_component": ("部件", "Component"),
    "survey.map_new": ("新位置", "New position"),
    "survey.reason": ("变更原因", "Reason"),
    "survey.clicked": (
        "地图点击位置：经度 {lon:.6f}，纬度 {lat:.6f}（WGS84）",
        "Clicked on the map: lon {lon:.6f}, lat {lat:.6f} (WGS84)",
    ),
    "survey.move_click": ("移动到点击位置", "Move to the clicked position"),
    "survey.typed": ("输入坐标移动", "Move to typed coordinates"),
    "survey.crs": ("坐标系", "Coordinate system"),
    "survey.x": ("x / 经度", "x / longitude"),
    "survey.y": ("y / 纬度", "y / latitude"),
    "survey.x_m": ("x（米）", "x (metres)"),
    "survey.y_m": ("y（米）", "y (metres)"),
    "survey.move_here": ("移动到此坐标", "Move here"),
    "survey.confirm_far": (
        "将把部件移动 {distance:.1f} 米（超过 {threshold:.0f} 米），请确认。",
        "This moves the component {distance:.1f} m (more than {threshold:.0f} m); please confirm.",
    ),
    "survey.confirm_grid": (
        "部件将从网格 {old}（{old_name}）移入网格 {new}（{new_name}），请确认。",
        "The component moves from grid {old} ({old_name}) into grid {new} ({new_name}); please confirm.",
    ),
    "survey.confirm": ("确认移动", "Confirm the move"),
    "survey.cancel": ("取消", "Cancel"),
    "survey.moved": ("已移动 {distance:.1f} 米", "Moved {distance:.1f} m"),
    "survey.moved_grid": ("，网格 {old} → {new}", "; grid {old} → {new}"),
    "survey.state": ("状态", "State"),
    "survey.set_state": ("更改状态", "Set state"),
    "survey.state_set": ("状态已改为 {state}", "State set to {state}"),
    "survey.version_suffix": ("（版本 {version}）", " (version {version})"),
    "survey.history": ("变更历史", "History"),
    "survey.no_history": ("尚无变更", "No changes yet"),
    "survey.undo": ("撤销 #{id}（{action}，{at}）", "Undo #{id} ({action}, {at})"),
    "survey.undo_help": (
        "撤销以新变更的方式恢复变更前的值；再次撤销会继续向前回退。",
        "An undo restores the values before the change as a new change; undoing again steps further back.",
    ),
    "survey.nothing_to_undo": ("没有可撤销的变更", "Nothing left to undo"),
    "survey.undone": ("已撤销变更 #{id}", "Change #{id} undone"),
    "survey.undoes": ("撤销 #{id}", "undoes #{id}"),
    "survey.action.move": ("移动", "move"),
    "survey.action.state": ("改状态", "state change"),
    "survey.action.undo": ("撤销", "undo"),
    "survey.action.reassign": ("网格调整", "reassigned by a boundary change"),
    "survey.action.create": ("新建", "created"),
    "survey.action.edit": ("编辑", "edit"),
    "survey.action.delete": ("删除", "deleted"),
    "source.实测": ("实测", "surveyed"),
    "source.地形图": ("地形图", "topographic map"),
    "source.调绘": ("调绘", "field-annotated"),
    "source.其它": ("其它", "other"),
    # batch
    "survey.batch": ("批量上传测绘位置", "Upload surveyed positions"),
    "survey.batch_help": (
        "CSV 或 XLSX，列：code 与 x/y（或 lon/lat），可选 note；不超过 {mb} MB。"
        "同一编码出现多次时以后面有效的一行为准。",
        "CSV or XLSX with columns code and x/y (or lon/lat), optional note; at most {mb} MB. "
        "A code given twice: its last good row wins.",
    ),
    "survey.file": ("选择文件", "Choose a file"),
    "survey.file_crs": ("文件坐标系", "CRS of the file"),
    "survey.columns": ("列名（留空则自动识别）", "Column names (blank: detected)"),
    "survey.preview": ("预览", "Preview"),
    "survey.rows": ("行数", "Rows"),
    "survey.accepted": ("接受", "Accepted"),
    "survey.rejected": ("拒绝", "Rejected"),
    "survey.to_move": ("将移动的部件", "Components to move"),
    "survey.rejects": ("拒绝的行（将连同原因保存）", "Rejected rows (kept with their reasons)"),
    "survey.applied_before": (
        "此文件已于 {at} 由 {actor} 作为批次 {id} 导入过。",
        "This file was applied before: batch {id}, on {at} by {actor}.",
    ),
    "survey.again": ("确实要再次导入", "Apply it again anyway"),
    "survey.confirm_batch": ("确认导入", "Confirm"),
    "survey.discard": ("放弃", "Discard"),
    "survey.batch_done": (
        "批次 {id} 已导入：移动 {accepted} 个部件，{rejected} 行被拒绝并已保存原因",
        "Batch {id} applied: {accepted} components moved, {rejected} rows rejected and kept with their reasons",
    ),
    # errors of the survey layer, by code
    "error.no_actor": (
        "每次变更都需要填写操作人（测绘员）。",
        "Every change needs the name of who makes it.",
    ),
    "error.bad_code": (
        "部件编码 {code} 不是 16 位数字（区县 6 + 类别 4 + 序号 6）。",
        "Component code {code} is not 16 digits (county 6 + class 4 + serial 6).",
    ),
    "error.bad_digits": ("“{value}” 应为数字编码。", "“{value}” must be a code of digits."),
    "error.no_search": (
        "请输入部件编码、网格或类别。",
        "Give a component code, a grid or a class to search by.",
    ),
    "error.unknown_code": ("没有编码为 {code} 的部件。", "No component has the code {code}."),
    "error.not_numbers": ("坐标（{x}，{y}）不是数字。", "The coordinates ({x}, {y}) are not numbers."),
    "error.wrong_crs": (
        "坐标 {where} 看似经纬度而非 {crs} 平面坐标，请选择经纬度坐标系。",
        "The coordinates {where} look like lon/lat degrees, not {crs} metres; choose a lon/lat system.",
    ),
    "error.coord_nan": (
        "坐标 {where} 缺失或不是有限数。",
        "The coordinates {where} are missing or not finite.",
    ),
    "error.coord_swapped": (
        "坐标 {where} 的经纬度疑似颠倒。",
        "The coordinates {where} look swapped (lat, lon).",
    ),
    "error.coord_out_of_range": (
        "坐标 {where} 超出 {crs} 的有效范围。",
        "The coordinates {where} are out of range for {crs}.",
    ),
    "error.coord_wrong_crs": (
        "坐标 {where} 看似经纬度而非平面坐标。",
        "The coordinates {where} look like degrees, not metres.",
    ),
    "error.outside": (
        "位置 {where}（{crs}）不在本区任何网格内。",
        "The position {where} ({crs}) is outside every grid of the district.",
    ),
    "error.stale": (
        "部件 {code} 已被他人修改：您编辑的是版本 {seen}，当前为版本 {version}。请重新载入后再试。",
        "Component {code} was changed by someone else: you edited version {seen}, it is now version "
        "{version}. Reload it and try again.",
    ),
    "error.same_place": (
        "部件 {code} 已在该位置，无需移动。",
        "Component {code} is already at that position; nothing to change.",
    ),
    "error.confirm_move": (
        "将部件 {code} 移动 {distance:.1f} 米（网格 {old_grid} → {new_grid}）需要确认。",
        "Moving component {code} {distance:.1f} m (grid {old_grid} → {new_grid}) must be confirmed.",
    ),
    "error.unknown_state": ("未知状态“{state}”。", "Unknown state “{state}”."),
    "error.same_state": (
        "部件 {code} 已是该状态，无需更改。",
        "Component {code} is in that state already; nothing to change.",
    ),
    "error.nothing_to_undo": ("部件 {code} 没有可撤销的变更。", "Component {code} has no change to undo."),
    "error.not_next_undo": (
        "现在不能撤销变更 {asked}：下一个可撤销的是变更 {next}。",
        "Change {asked} cannot be undone now: the next change to undo is {next}.",
    ),
    "error.cannot_undo": ("变更 {id} 不能撤销。", "Change {id} cannot be undone."),
    "error.undo_outside": (
        "变更 {id} 之前的位置已不在任何现行网格内，无法恢复。",
        "The position before change {id} is outside every current grid; it cannot be restored.",
    ),
    "error.no_batch": ("没有批次 {id}。", "There is no batch {id}."),
    "error.batch_applied": ("批次 {id}（{file}）已经导入。", "Batch {id} ({file}) was applied already."),
    "error.batch_discarded": (
        "批次 {id}（{file}）已放弃，请重新预览。",
        "Batch {id} ({file}) was discarded; preview the file again.",
    ),
    "error.file_applied": (
        "{file} 已于 {at} 由 {actor} 作为批次 {id} 导入过；如确需再次导入，请勾选“确实要再次导入”。",
        "{file} was applied before, as batch {id} on {at} by {actor}; tick “Apply it again anyway” if "
        "that is meant.",
    ),
    "error.stale_batch": (
        "预览 {file} 之后有 {n} 个部件被修改（{codes}），整批未导入；请重新预览。",
        "{n} component(s) changed since the preview of {file} ({codes}); nothing was applied. Preview "
        "the file again.",
    ),
    # the reader of user files (layers.tabular), wherever a file is uploaded
    "error.file_too_large": (
        "{file} 为 {mb:.1f} MB，超过上限 {limit_mb:.1f} MB，请拆分后分别上传。",
        "{file} is {mb:.1f} MB; the limit is {limit_mb:.1f} MB. Split the file and upload the parts.",
    ),
    "error.file_empty": ("{file} 是空文件。", "{file} is empty."),
    "error.file_format": ("{file}：请上传 {wanted} 文件。", "{file}: upload a {wanted} file."),
    "error.file_no_header": ("{file}：文件为空或没有表头行。", "{file}: empty file, or no header row."),
    "error.file_encoding": (
        "{file}：文本既不是 UTF-8 也不是 GB18030，请另存为 UTF-8。",
        "{file}: the text is neither UTF-8 nor GB18030; save it as UTF-8.",
    ),
    "error.file_xlsx": ("{file}：不是可读取的 XLSX 工作簿。", "{file}: not a readable XLSX workbook."),
    "error.file_columns": (
        "{file}：缺少列 {missing}；文件中的列为 {has}。请将列命名为 code、x、y（或 lon、lat），或在“列名”中指定。",
        "{file}: missing column(s) {missing}; the file has {has}. Name the columns code, x, y (or lon, "
        "lat), or choose them under “Column names”.",
    ),
    "error.file_same_columns": (
        "{file}：code、x、y 必须是三个不同的列（现为 {columns}）。",
        "{file}: code, x and y must be three different columns (got {columns}).",
    ),
    "error.grids_changed": (
        "预览之后网格已调整，请重新预览。",
        "The grids changed since the preview; preview again.",
    ),
}
