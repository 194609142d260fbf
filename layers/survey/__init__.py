"""The surveyor's workspace: edits of one component (:mod:`.edits`) and batch uploads (:mod:`.batch`).

:mod:`._base` holds what both share: the CRSs a surveyor may use, the code and actor checks, and
the locator of the current level-3 grids.
"""

from layers.survey._base import SURVEY_CRS, district_locator, normalise_crs, position_in, to_lonlat
from layers.survey.batch import (
    BATCH_KIND,
    REASONS,
    BatchPreview,
    BatchResult,
    confirm_batch,
    discard_batch,
    load_preview,
    preview_batch,
    reason_label,
    reason_labels,
)
from layers.survey.edits import (
    SAME_PLACE_M,
    ComponentChange,
    FoundComponents,
    MovePlan,
    find_components,
    get_component,
    grid_shape,
    history,
    move_component,
    plan_move,
    set_state,
    undo,
    undoable,
)

__all__ = [
    "BATCH_KIND",
    "REASONS",
    "SAME_PLACE_M",
    "SURVEY_CRS",
    "BatchPreview",
    "BatchResult",
    "ComponentChange",
    "FoundComponents",
    "MovePlan",
    "confirm_batch",
    "discard_batch",
    "district_locator",
    "find_components",
    "get_component",
    "grid_shape",
    "history",
    "load_preview",
    "move_component",
    "normalise_crs",
    "plan_move",
    "position_in",
    "preview_batch",
    "reason_label",
    "reason_labels",
    "set_state",
    "to_lonlat",
    "undo",
    "undoable",
]
