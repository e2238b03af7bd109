"""`vaultcrm customer …`: the customer 360 view, list by segment or tier, profile edits, tags, points, packages."""

from __future__ import annotations

import typer

from .base import app

customer_app = typer.Typer(help="客户档案：查看、列表、修改、分群标签、积分与套餐。", no_args_is_help=True,
                           rich_markup_mode=None)
app.add_typer(customer_app, name="customer")
