"""Where an XCom lives: its address, the five values that name it in Airflow.

Airflow files an XCom under (dag_id, run_id, task_id, map_index, key); the REST API
names the run ``dag_run_id`` in its paths and ``run_id`` in its bodies. Every layer of
xcomkit passes the five together as one :class:`XComAddress`, never as loose strings.
"""

from __future__ import annotations

from typing import NamedTuple

#: The path segment that, as dag_id, dag_run_id or task_id of a list, matches every one.
WILDCARD = "~"


class XComAddress(NamedTuple):
    """The address of one XCom.

    Attributes:
        dag_id: the DAG's id.
        dag_run_id: the DAG run's id (``run_id`` in Airflow's bodies and tables).
        task_id: the task's id within the DAG.
        key: the XCom's key (any text up to 512 characters; may contain ``/``).
        map_index: the mapped task instance's index; -1 for an unmapped task.
    """

    dag_id: str
    dag_run_id: str
    task_id: str
    key: str
    map_index: int = -1
