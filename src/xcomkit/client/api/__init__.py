"""API classes of :mod:`xcomkit.client` (only the XCom part of Airflow's API)."""

from xcomkit.client.api.x_com_api import XComApi

__all__ = ["XComApi"]
