"""Orders per partner in each final status (SHIPPED, REJECTED, CANCELLED), kept by triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

CountOrders counts the open orders (the work in progress) from the orders themselves and the
closed ones, almost every stored order, from this table. Triggers on ``orders`` keep it in the
transaction that inserts, closes or deletes an order, so it never lags: an insert or a change
into a final status adds one, a change out of one (or a delete) takes one away. Changes among
open statuses, intake included, do not touch it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_TABLE = "order_terminal_counts"
_FINAL = "('SHIPPED', 'REJECTED', 'CANCELLED')"
_FUNCTION = "order_terminal_counts_follow"
_TRIGGERS = ("order_terminal_counts_on_insert", "order_terminal_counts_on_update", "order_terminal_counts_on_delete")

_POSTGRES = [
    f"""
    CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.status IN {_FINAL} THEN
            UPDATE {_TABLE} SET order_count = order_count - 1
            WHERE partner_id = OLD.partner_id AND status = OLD.status;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.status IN {_FINAL} THEN
            INSERT INTO {_TABLE} (partner_id, status, order_count) VALUES (NEW.partner_id, NEW.status, 1)
            ON CONFLICT (partner_id, status) DO UPDATE SET order_count = {_TABLE}.order_count + 1;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE TRIGGER {_TRIGGERS[0]} AFTER INSERT ON orders
    FOR EACH ROW WHEN (NEW.status IN {_FINAL}) EXECUTE FUNCTION {_FUNCTION}()
    """,
    f"""
    CREATE TRIGGER {_TRIGGERS[1]} AFTER UPDATE OF status, partner_id ON orders
    FOR EACH ROW WHEN (
        (OLD.status, OLD.partner_id) IS DISTINCT FROM (NEW.status, NEW.partner_id)
        AND (OLD.status IN {_FINAL} OR NEW.status IN {_FINAL})
    ) EXECUTE FUNCTION {_FUNCTION}()
    """,
    f"""
    CREATE TRIGGER {_TRIGGERS[2]} AFTER DELETE ON orders
    FOR EACH ROW WHEN (OLD.status IN {_FINAL}) EXECUTE FUNCTION {_FUNCTION}()
    """,
]

_ADD_NEW = f"""
    INSERT INTO {_TABLE} (partner_id, status, order_count) SELECT NEW.partner_id, NEW.status, 1
    WHERE NEW.status IN {_FINAL}
    ON CONFLICT (partner_id, status) DO UPDATE SET order_count = order_count + 1;
"""
_TAKE_OLD = f"""
    UPDATE {_TABLE} SET order_count = order_count - 1
    WHERE partner_id = OLD.partner_id AND status = OLD.status AND OLD.status IN {_FINAL};
"""
_SQLITE = [
    f"CREATE TRIGGER {_TRIGGERS[0]} AFTER INSERT ON orders WHEN NEW.status IN {_FINAL} BEGIN {_ADD_NEW} END",
    f"""
    CREATE TRIGGER {_TRIGGERS[1]} AFTER UPDATE OF status, partner_id ON orders
    WHEN (OLD.status IS NOT NEW.status OR OLD.partner_id IS NOT NEW.partner_id)
        AND (OLD.status IN {_FINAL} OR NEW.status IN {_FINAL})
    BEGIN {_TAKE_OLD} {_ADD_NEW} END
    """,
    f"CREATE TRIGGER {_TRIGGERS[2]} AFTER DELETE ON orders WHEN OLD.status IN {_FINAL} BEGIN {_TAKE_OLD} END",
]


def _execute(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if _postgres():  # no order closes between the count below and the triggers
        op.execute("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        _TABLE,
        sa.Column("partner_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("order_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "status", name=op.f(f"pk_{_TABLE}")),
    )
    op.execute(
        f"INSERT INTO {_TABLE} (partner_id, status, order_count) "
        f"SELECT partner_id, status, count(*) FROM orders WHERE status IN {_FINAL} GROUP BY partner_id, status"
    )
    _execute(_POSTGRES if _postgres() else _SQLITE)


def downgrade() -> None:
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON orders" if _postgres() else f"DROP TRIGGER {trigger}")
    if _postgres():
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
    op.drop_table(_TABLE)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"
