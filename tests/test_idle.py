"""kb.idle: work after the answer waits for a quiet worker, but never longer than its limit."""

from __future__ import annotations

import threading
import time

from kb.idle import IdleRunner
from kb.stores.write_path import after_an_answer


def _request(runner: IdleRunner, seconds: float) -> None:
    """A WSGI request through the runner's counter that takes ``seconds`` to answer."""

    def app(environ, start_response):
        time.sleep(seconds)
        return [b"ok"]

    answer = runner.wrap(app)({}, lambda *args: None)
    list(answer)
    answer.close()


def test_work_waits_until_no_request_is_in_flight():
    runner = IdleRunner(quiet=0.05, max_delay=10)
    done = threading.Event()
    ran_during_request = []
    busy = threading.Thread(target=_request, args=(runner, 0.5))
    busy.start()
    time.sleep(0.05)
    runner.submit(lambda: (ran_during_request.append(busy.is_alive()), done.set()))
    assert done.wait(5)
    busy.join()
    assert ran_during_request == [False]


def test_overdue_work_runs_even_while_requests_keep_coming():
    runner = IdleRunner(quiet=0.05, max_delay=0.3)
    done = threading.Event()
    stop = threading.Event()

    def requests_without_pause() -> None:
        while not stop.is_set():
            _request(runner, 0.01)

    stream = [threading.Thread(target=requests_without_pause) for _ in range(2)]
    for thread in stream:
        thread.start()
    try:
        started = time.monotonic()
        runner.submit(done.set)
        assert done.wait(5)
        assert 0.25 <= time.monotonic() - started < 2
    finally:
        stop.set()
        for thread in stream:
            thread.join()


def test_a_failing_item_does_not_stop_the_ones_after_it():
    runner = IdleRunner(quiet=0.01, max_delay=1)
    done = threading.Event()
    seen = []

    def fails() -> None:
        raise RuntimeError("index not updated")

    runner.submit(fails)
    runner.submit(lambda: (seen.append(after_an_answer()), done.set()))
    assert done.wait(5)
    assert seen == [True]  # it runs as work after an answer (kb.stores.write_path.after_an_answer)
