"""Which stage owns the row layout of a published dataset.

Every published row has ``id, text, meta, stats``; a dataset published after a synthesis
stage also gets the columns of that stage's ``publish_format`` (the stage builds them:
:meth:`pipeline.stage.Stage.export_columns`). A stage with no format after a synthesis stage
inherits the layout of the last stage that set one.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.plan import PlannedStage


def _layout_owner(span: Sequence[PlannedStage]) -> PlannedStage | None:
    owner = None
    for planned in span:
        if type(planned.stage).publish_format:
            owner = planned
    return owner


def span_format(span: Sequence[PlannedStage]) -> str:
    """The layout of a dataset published after ``span``: the last one a stage declares."""
    owner = _layout_owner(span)
    return type(owner.stage).publish_format if owner else ""


def layout_stage(span: Sequence[PlannedStage]) -> str:
    """The registry name of the stage whose layout a dataset published after ``span`` has
    ("" for the corpus layout)."""
    owner = _layout_owner(span)
    return type(owner.stage).name if owner else ""
