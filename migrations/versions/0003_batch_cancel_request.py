"""Record a batch's cancel request on the batch row itself.

Cancelling a batch used to commit its campaigns' cancellations first and close the batch afterwards; a
scheduler loop that looked in between saw every campaign finished and closed the batch as ``completed``.
The same happened, always, when a campaign of the batch was still running at cancel time (it finishes later
and the batch was then closed as completed). With ``cancel_requested_at`` set in the cancelling transaction,
whoever closes the batch knows it was cancelled.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("cancel_requested_at")
