"""The work lanes: deadlines, queue bounds, and lanes that cannot starve each other."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from xcomkit.server.execution import DeadlineExceeded, LaneFull, WorkLanes
from xcomkit.store.db import make_engine

SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000) "
    "SELECT count(*) FROM c"
)


def scalar(sql: str):
    """A database function that runs ``sql`` and returns its single value."""

    def run(db):
        with db.reading() as conn:
            return conn.execute(text(sql)).scalar()

    return run


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    yield engine
    engine.dispose()


def test_sqlite_statement_running_past_the_deadline_is_interrupted(engine) -> None:
    lanes = WorkLanes(engine, request_timeout=0.2)
    seen: list[BaseException] = []

    def slow(db):
        try:
            with db.reading() as conn:
                return conn.execute(text(SLOW_SQL)).scalar()
        except OperationalError as exc:
            seen.append(exc)
            raise

    with pytest.raises(DeadlineExceeded, match="request timeout"):
        asyncio.run(lanes.scan(slow))
    # Interrupted inline at the budget, then in the lane at the deadline.
    assert len(seen) == 2 and all("interrupted" in str(e) for e in seen)
    # The lane's thread is free again and the connection usable.
    assert asyncio.run(lanes.scan(scalar("SELECT 7"))) == 7
    lanes.shutdown()


def test_job_whose_deadline_passed_in_the_queue_never_starts(engine) -> None:
    lanes = WorkLanes(engine, request_timeout=0.1, scan_threads=1, inline_reads=False)
    release = threading.Event()
    started: list[str] = []

    def blocker(_eng):
        started.append("blocker")
        release.wait(5)

    def queued(_eng):
        started.append("queued")

    async def scenario():
        first = asyncio.ensure_future(lanes.scan(blocker))
        while not started:
            await asyncio.sleep(0.005)
        second = asyncio.ensure_future(lanes.scan(queued))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and lanes._lanes["scan"].waiting < 2:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.15)  # let the queued job's deadline pass
        release.set()
        await first
        with pytest.raises(DeadlineExceeded):
            await second

    asyncio.run(scenario())
    assert started == ["blocker"]
    lanes.shutdown()


def test_full_lane_refuses_at_once_and_other_lanes_still_serve(engine) -> None:
    lanes = WorkLanes(engine, request_timeout=5, scan_threads=1, max_waiting=2, inline_reads=False)
    release = threading.Event()

    def blocker(_eng):
        release.wait(5)

    async def scenario():
        held = [asyncio.ensure_future(lanes.scan(blocker)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(LaneFull, match="busy"):
            await lanes.scan(blocker)
        # Point reads and writes have their own threads.
        assert await lanes.read(scalar("SELECT 1")) == 1
        release.set()
        await asyncio.gather(*held)

    asyncio.run(scenario())
    lanes.shutdown()


def test_sqlite_has_one_writer_thread(engine) -> None:
    lanes = WorkLanes(engine, request_timeout=5, write_threads=8, inline_reads=False)
    names = asyncio.run(
        _gather(lanes, [lambda _e: threading.current_thread().name for _ in range(20)])
    )
    assert len(set(names)) == 1
    lanes.shutdown()


async def _gather(lanes, fns):
    return await asyncio.gather(*(lanes.write(fn) for fn in fns))


def test_postgresql_statements_are_bounded_by_the_request_timeout(pg_database) -> None:
    url = pg_database("stmt_timeout")
    engine = make_engine(url, statement_timeout_ms=1500)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "1500ms"
        lanes = WorkLanes(engine, request_timeout=1.5)
        with pytest.raises(DeadlineExceeded):
            asyncio.run(lanes.scan(scalar("SELECT pg_sleep(5)")))
        lanes.shutdown()
    finally:
        engine.dispose()


def test_hash_lane_runs_at_lower_priority_with_a_short_queue(engine) -> None:
    import os

    from xcomkit.server.execution import HASH_NICENESS, HASH_WAITING_PER_THREAD

    lanes = WorkLanes(engine, request_timeout=5, hash_threads=2, max_waiting=128)
    niceness = asyncio.run(
        lanes.hash(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    )
    assert niceness == os.getpriority(os.PRIO_PROCESS, 0) + HASH_NICENESS
    assert lanes._lanes["hash"].max_waiting == 2 * HASH_WAITING_PER_THREAD
    assert lanes._lanes["read"].max_waiting == 128
    lanes.shutdown()


def test_hash_lane_gets_no_database_and_says_when_it_is_full(engine) -> None:
    """``full`` is true exactly when the next password check would be refused: the login
    gate answers 503 on it before reading a body."""
    from xcomkit.server.execution import HASH_WAITING_PER_THREAD

    lanes = WorkLanes(engine, request_timeout=5, hash_threads=1)
    release = threading.Event()

    async def main() -> None:
        assert await lanes.hash(lambda *args: args, 1, 2) == (1, 2)
        jobs = [
            asyncio.ensure_future(lanes.hash(release.wait, 5))
            for _ in range(HASH_WAITING_PER_THREAD - 1)
        ]
        await asyncio.sleep(0)
        assert not lanes.full("hash")
        jobs.append(asyncio.ensure_future(lanes.hash(release.wait, 5)))
        await asyncio.sleep(0)
        assert lanes.full("hash")
        assert not lanes.full("read")
        with pytest.raises(LaneFull):
            await lanes.hash(release.wait, 5)
        release.set()
        assert await asyncio.gather(*jobs) == [True] * HASH_WAITING_PER_THREAD
        assert not lanes.full("hash")

    asyncio.run(main())
    lanes.shutdown()


def test_cheap_reads_run_inline_and_slow_ones_move_to_their_lane(engine) -> None:
    # The scan below runs past the inline budget (3 ms) on any machine: a million rows are
    # over ten million SQLite steps. In its lane it may then take as long as a loaded
    # machine needs: the request timeout is generous, so only the lane choice is tested.
    lanes = WorkLanes(engine, request_timeout=120)
    where: list[str] = []

    def read(sql):
        def run(eng):
            where.append(threading.current_thread().name)
            return scalar(sql)(eng)

        return run

    async def scenario():
        assert await lanes.read(read("SELECT 1")) == 1
        assert await lanes.scan(read("SELECT 2")) == 2
        count = await lanes.scan(read(SLOW_SQL.replace("1000000000", "1000000")))
        assert count == 1000000

    asyncio.run(scenario())
    main = threading.main_thread().name
    assert where[:2] == [main, main]  # inline, on the loop's thread
    assert where[2:] == [main, "xcomkit-scan_0"]  # over budget: interrupted, then the lane
    lanes.shutdown()


def test_writes_run_inline_until_the_lock_is_taken_then_wait_in_the_writer(
    engine, tmp_path, monkeypatch
) -> None:
    import sqlite3

    from xcomkit.server import execution
    from xcomkit.store.db import migrate

    migrate(engine)
    checkpoints: list[str] = []
    real = execution._checkpoint
    monkeypatch.setattr(execution, "CHECKPOINT_EVERY", 2)
    monkeypatch.setattr(
        execution,
        "_checkpoint",
        lambda eng: (checkpoints.append(threading.current_thread().name), real(eng)),
    )
    lanes = WorkLanes(engine, request_timeout=0.5)

    def put(name):
        def run(db):
            with db.writing() as conn:
                conn.execute(
                    text("INSERT INTO xcomkit_kv (name, value) VALUES (:n, 'v')"), {"n": name}
                )
            return threading.current_thread().name

        return run

    async def scenario():
        first = [await lanes.write(put(f"k{i}")) for i in range(2)]
        await asyncio.sleep(0.2)  # the checkpoint job runs in the writer thread
        other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DeadlineExceeded):
            await lanes.write(put("blocked"))  # inline fails at once; the writer waits
        other.execute("ROLLBACK")
        other.close()
        last = await lanes.write(put("after"))
        return first, last

    first, last = asyncio.run(scenario())
    main = threading.main_thread().name
    assert first == [main, main] and last == main
    assert checkpoints == ["xcomkit-write_0"]
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM xcomkit_kv ORDER BY name")).scalars().all()
    assert names == ["after", "k0", "k1"]  # the write answered 503 changed nothing
    lanes.shutdown()


def test_a_write_queues_behind_the_write_lane_instead_of_trying_inline(engine) -> None:
    from xcomkit.store.db import migrate

    migrate(engine)
    lanes = WorkLanes(engine, request_timeout=5)
    release = threading.Event()
    where: list[str] = []

    def held(db):
        release.wait(5)  # a write the lane is busy with
        where.append("held")

    def put(name):
        def run(db):
            where.append(name + "@" + threading.current_thread().name)
            with db.writing() as conn:
                conn.execute(
                    text("INSERT INTO xcomkit_kv (name, value) VALUES (:n, 'v')"), {"n": name}
                )

        return run

    async def scenario():
        busy = asyncio.ensure_future(lanes._submit("write", held, (), {}))
        await asyncio.sleep(0)  # the lane now has work
        queued = asyncio.ensure_future(lanes.write(put("queued")))
        await asyncio.sleep(0.05)
        assert where == []  # neither inline nor overtaking the held write
        release.set()
        await asyncio.gather(busy, queued)
        await lanes.write(put("inline"))  # the lane is idle again

    asyncio.run(scenario())
    main = threading.main_thread().name
    assert where == ["held", "queued@xcomkit-write_0", f"inline@{main}"]
    lanes.shutdown()


# ----------------------------------------------------------------------------- group commit


def _shared_put(name: str, fail: bool = False):
    """A write rule that may share a transaction: inserts ``name`` (then raises if
    ``fail``); returns the thread it ran on."""
    from xcomkit.store.database import shares_transactions

    @shares_transactions
    def run(db):
        with db.writing() as conn:
            conn.execute(text("INSERT INTO xcomkit_kv (name, value) VALUES (:n, 'v')"), {"n": name})
            if fail:
                raise ValueError(f"{name} refused after writing")
        return threading.current_thread().name

    return run


def _names(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM xcomkit_kv ORDER BY name")).scalars())


@pytest.fixture
def migrated(engine):
    from xcomkit.store.db import migrate

    migrate(engine)
    return engine


def test_writes_that_arrive_together_share_a_commit_and_answer_after_it(
    migrated, monkeypatch
) -> None:
    from sqlalchemy import event

    from xcomkit.server import execution

    monkeypatch.setattr(execution, "INLINE_BUDGET", 60.0)  # batches cut by size only
    lanes = WorkLanes(migrated, request_timeout=5)
    log: list[str] = []
    event.listen(lanes._inline.engine, "commit", lambda _conn: log.append("commit"))
    count = execution.SHARED_INLINE + 4

    async def one(i: int) -> str:
        where = await lanes.write(_shared_put(f"k{i:02}"))
        log.append("answered")
        return where

    async def scenario():
        return await asyncio.gather(*(one(i) for i in range(count)))

    where = asyncio.run(scenario())
    assert set(where) == {threading.main_thread().name}  # inline, on the loop
    assert log.count("commit") == 2  # a full batch, then the rest: not one per write
    assert log.index("answered") > log.index("commit")  # no answer before its commit
    assert _names(migrated) == [f"k{i:02}" for i in range(count)]
    lanes.shutdown()


def test_a_failing_write_undoes_only_its_own_changes_in_a_shared_transaction(
    migrated,
) -> None:
    from sqlalchemy.exc import IntegrityError

    lanes = WorkLanes(migrated, request_timeout=5)

    async def scenario():
        return await asyncio.gather(
            lanes.write(_shared_put("a")),
            lanes.write(_shared_put("b", fail=True)),
            lanes.write(_shared_put("a")),  # taken by the first
            lanes.write(_shared_put("c")),
            return_exceptions=True,
        )

    first, failed, taken, last = asyncio.run(scenario())
    assert first == last == threading.main_thread().name
    assert isinstance(failed, ValueError) and "b refused" in str(failed)
    assert isinstance(taken, IntegrityError)
    assert _names(migrated) == ["a", "c"]
    lanes.shutdown()


def test_shared_writes_wait_in_the_writer_while_another_process_holds_the_lock(
    migrated, tmp_path
) -> None:
    import sqlite3

    lanes = WorkLanes(migrated, request_timeout=5)
    other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)

    async def scenario():
        other.execute("BEGIN IMMEDIATE")
        writes = [asyncio.ensure_future(lanes.write(_shared_put(f"w{i}"))) for i in range(5)]
        await asyncio.sleep(0.2)
        assert not any(w.done() for w in writes)  # inline met the lock: now in the writer
        other.execute("ROLLBACK")
        return await asyncio.gather(*writes)

    where = asyncio.run(scenario())
    other.close()
    assert where == ["xcomkit-write_0"] * 5
    assert _names(migrated) == [f"w{i}" for i in range(5)]
    assert lanes._lanes["write"].waiting == 0
    # With the lock free again, writes run inline once more.
    assert asyncio.run(lanes.write(_shared_put("after"))) == threading.main_thread().name
    lanes.shutdown()


def test_shared_writes_past_their_deadline_answer_503_and_change_nothing(
    migrated, tmp_path
) -> None:
    import sqlite3

    lanes = WorkLanes(migrated, request_timeout=0.3)
    other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def scenario():
        return await asyncio.gather(
            *(lanes.write(_shared_put(f"late{i}")) for i in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(scenario())
    other.execute("ROLLBACK")
    other.close()
    assert all(isinstance(o, DeadlineExceeded) for o in outcomes), outcomes
    assert _names(migrated) == []
    assert lanes._lanes["write"].waiting == 0
    lanes.shutdown()


def test_shared_writes_beyond_the_write_lane_room_are_refused(migrated, tmp_path) -> None:
    import sqlite3

    lanes = WorkLanes(migrated, request_timeout=5, max_waiting=3)
    other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)

    async def scenario():
        other.execute("BEGIN IMMEDIATE")
        writes = [asyncio.ensure_future(lanes.write(_shared_put(f"r{i}"))) for i in range(5)]
        await asyncio.sleep(0.2)
        other.execute("ROLLBACK")
        return await asyncio.gather(*writes, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    other.close()
    assert outcomes[:3] == ["xcomkit-write_0"] * 3
    assert all(isinstance(o, LaneFull) for o in outcomes[3:])
    assert _names(migrated) == ["r0", "r1", "r2"]
    lanes.shutdown()


def test_shared_writes_run_inline_while_the_writer_works_without_the_lock(migrated) -> None:
    """A WAL checkpoint (or any writer-thread job holding no write lock) does not send
    the XCom writes gathered meanwhile to the writer thread: they commit inline."""
    lanes = WorkLanes(migrated, request_timeout=5)
    release = threading.Event()

    async def scenario():
        busy = asyncio.ensure_future(lanes._submit("write", lambda db: release.wait(5), (), {}))
        await asyncio.sleep(0.05)  # the writer thread is busy
        where = await asyncio.gather(*(lanes.write(_shared_put(f"c{i}")) for i in range(3)))
        release.set()
        await busy
        return where

    assert asyncio.run(scenario()) == [threading.main_thread().name] * 3
    assert _names(migrated) == ["c0", "c1", "c2"]
    lanes.shutdown()


class _Abort(BaseException):
    """Not an Exception: what a rule may raise that ``except Exception`` lets through."""


def _shared_abort(name: str, error: type[BaseException]):
    """A write rule that may share a transaction: inserts ``name``, then raises
    ``error``."""
    from xcomkit.store.database import shares_transactions

    @shares_transactions
    def run(db):
        with db.writing() as conn:
            conn.execute(text("INSERT INTO xcomkit_kv (name, value) VALUES (:n, 'v')"), {"n": name})
            raise error(f"{name} aborted")

    return run


@pytest.mark.parametrize("error", [_Abort, StopIteration])
@pytest.mark.parametrize("held", [False, True], ids=["inline", "writer"])
def test_a_write_raising_a_base_exception_answers_and_leaves_no_write_waiting(
    migrated, tmp_path, held, error
) -> None:
    """A rule that raises a BaseException (not an Exception), or StopIteration (which
    an asyncio future refuses), in a shared transaction: its caller gets an exception
    and its changes are undone; its neighbours are answered (nothing hangs) and kept;
    later writes still run (inline or, with the lock held by another process meanwhile,
    in the writer thread)."""
    import sqlite3

    lanes = WorkLanes(migrated, request_timeout=5)
    other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)

    async def scenario():
        if held:
            other.execute("BEGIN IMMEDIATE")
        writes = [
            asyncio.ensure_future(lanes.write(_shared_put("a"))),
            asyncio.ensure_future(lanes.write(_shared_abort("b", error))),
            asyncio.ensure_future(lanes.write(_shared_put("c"))),
        ]
        if held:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            other.execute("ROLLBACK")
        outcomes = await asyncio.wait_for(
            asyncio.gather(*writes, return_exceptions=True), timeout=10
        )
        later = await asyncio.wait_for(lanes.write(_shared_put("d")), timeout=10)
        return outcomes, later

    (first, aborted, last), later = asyncio.run(scenario())
    other.close()
    if error is StopIteration:  # as a coroutine that raised it would fail
        assert isinstance(aborted, RuntimeError) and "b aborted" in str(aborted)
    else:
        assert isinstance(aborted, _Abort) and str(aborted) == "b aborted"
    assert isinstance(first, str) and isinstance(last, str) and isinstance(later, str)
    assert _names(migrated) == ["a", "c", "d"]
    assert lanes._lanes["write"].waiting == 0
    lanes.shutdown()


def test_shared_writes_after_shutdown_are_refused_not_left_waiting(migrated, tmp_path) -> None:
    """Lanes shut down (the server stopping) while a write still comes: with the lock
    held by another process it cannot go inline, and the writer thread cannot start; it
    is answered with that error instead of waiting for ever."""
    import sqlite3

    lanes = WorkLanes(migrated, request_timeout=5)
    asyncio.run(lanes.write(_shared_put("before")))  # opens the inline connections
    other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    lanes._lanes["write"].pool.shutdown(wait=True)

    async def scenario():
        return await asyncio.wait_for(
            asyncio.gather(
                *(lanes.write(_shared_put(f"s{i}")) for i in range(2)), return_exceptions=True
            ),
            timeout=10,
        )

    outcomes = asyncio.run(scenario())
    other.execute("ROLLBACK")
    other.close()
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError], outcomes
    assert all("shutdown" in str(o) for o in outcomes)
    assert lanes._lanes["write"].waiting == 0 and not lanes._draining
    assert _names(migrated) == ["before"]
    lanes.shutdown()


@pytest.mark.parametrize("held", [False, True], ids=["inline", "writer"])
def test_shared_writes_from_event_loops_in_several_threads_are_each_answered_on_their_own(
    migrated, tmp_path, held
) -> None:
    """One app served on several event loops at once (the pytest plugin's uvicorn
    thread beside a test's httpx ASGI client, a TestClient's portal per request): each
    loop's writes are gathered and answered on that loop, none waits for ever, every
    one is written once (inline or, the lock held by another process, in the writer)."""
    import sqlite3

    lanes = WorkLanes(migrated, request_timeout=10)
    other = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)
    if held:
        other.execute("BEGIN IMMEDIATE")
    start = threading.Barrier(4)
    results: dict[int, object] = {}

    def loop_thread(t: int) -> None:
        async def scenario():
            start.wait()
            names = [f"t{t}-{i:02}" for i in range(40)]
            done = []
            for chunk in range(0, 40, 10):
                # No timer of its own: a write answered from another thread without
                # waking this loop would leave it asleep (seen as a thread still alive).
                done += await asyncio.gather(
                    *(lanes.write(_shared_put(n)) for n in names[chunk : chunk + 10])
                )
            return done

        try:
            results[t] = asyncio.run(scenario())
        except BaseException as exc:  # reported below
            results[t] = exc

    threads = [threading.Thread(target=loop_thread, args=(t,), daemon=True) for t in range(3)]
    for thread in threads:
        thread.start()
    start.wait()
    if held:
        time.sleep(0.3)  # let the writes meet the lock and queue for the writer
        other.execute("ROLLBACK")
    for thread in threads:
        thread.join(timeout=30)
    other.close()
    assert not any(thread.is_alive() for thread in threads), results
    assert all(isinstance(results.get(t), list) for t in range(3)), results
    assert _names(migrated) == sorted(f"t{t}-{i:02}" for t in range(3) for i in range(40))
    assert lanes._lanes["write"].waiting == 0
    lanes.shutdown()


def test_gathered_writes_start_only_within_the_inline_budget(migrated, monkeypatch) -> None:
    """Past the budget no further write starts in the loop's transaction: those done
    commit, the rest run on the loop's next turns (none is lost or rolled back)."""
    from sqlalchemy import event

    from xcomkit.server import execution

    monkeypatch.setattr(execution, "INLINE_BUDGET", 0.0)  # every write overruns it
    lanes = WorkLanes(migrated, request_timeout=5)
    commits: list[int] = []
    event.listen(lanes._inline.engine, "commit", lambda _conn: commits.append(1))

    async def scenario():
        return await asyncio.gather(*(lanes.write(_shared_put(f"b{i}")) for i in range(5)))

    assert asyncio.run(scenario()) == [threading.main_thread().name] * 5
    assert len(commits) == 5  # one write per turn, each committed
    assert _names(migrated) == [f"b{i}" for i in range(5)]
    lanes.shutdown()


def test_a_write_interrupted_in_a_shared_transaction_moves_the_batch_to_the_writer(
    migrated, monkeypatch
) -> None:
    """SQLite rolls back the whole transaction when a statement is interrupted: the
    writes of the batch then all run again in the writer thread, and all commit."""
    from xcomkit.server import execution
    from xcomkit.store.database import shares_transactions

    # Long enough that the batch is never cut by time on a loaded machine; the slow
    # statement runs past it.
    monkeypatch.setattr(execution, "INLINE_BUDGET", 0.5)
    lanes = WorkLanes(migrated, request_timeout=10)
    runs: list[str] = []

    @shares_transactions
    def slow_once(db):
        runs.append(threading.current_thread().name)
        with db.writing() as conn:
            if len(runs) == 1:
                conn.execute(text(SLOW_SQL))  # interrupted at the budget
            conn.execute(text("INSERT INTO xcomkit_kv (name, value) VALUES ('slow', 'v')"))
        return threading.current_thread().name

    async def scenario():
        return await asyncio.gather(
            lanes.write(_shared_put("before")),
            lanes.write(slow_once),
            lanes.write(_shared_put("after")),
        )

    assert asyncio.run(scenario()) == ["xcomkit-write_0"] * 3
    assert runs == [threading.main_thread().name, "xcomkit-write_0"]
    assert _names(migrated) == ["after", "before", "slow"]
    lanes.shutdown()


def test_a_rerun_shared_transaction_frees_each_old_object_once(
    tmp_path, template_db, monkeypatch
) -> None:
    """A shared transaction rolled back as a whole (here: a neighbour meets a lock) runs
    its rules again in the writer thread; an update's old value object is still named
    once for freeing, not once per run."""
    import shutil
    import sqlite3

    from xcomkit.address import XComAddress
    from xcomkit.server import execution
    from xcomkit.service import xcoms as rules
    from xcomkit.store.database import Database, shares_transactions
    from xcomkit.store.objects import StoredValue

    monkeypatch.setattr(execution, "INLINE_BUDGET", 60.0)  # one batch, whatever the load
    shutil.copy(template_db, tmp_path / "x.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    here = XComAddress("xcom_demo", "run_1", "extract", "big", -1)
    with Database(engine) as db:
        rules.create_xcom(db, here, None, stored=StoredValue("1", ref="obj-old"))
    lanes = WorkLanes(engine, request_timeout=10)
    runs: list[str] = []

    @shares_transactions
    def locked_once(db):
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    freed: list[str] = []

    async def scenario():
        await asyncio.gather(
            lanes.write(
                rules.update_xcom, here, None, stored=StoredValue("2", ref="obj-new"), freed=freed
            ),
            lanes.write(locked_once),
        )

    asyncio.run(scenario())
    assert runs == [threading.main_thread().name, "xcomkit-write_0"]
    assert freed == ["obj-old"]
    lanes.shutdown()
    engine.dispose()
