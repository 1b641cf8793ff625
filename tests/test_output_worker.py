"""OrderedWorker: calls run in submission order, errors reach the caller, memory is bounded."""
import threading
import time

import pytest

from masktrack_d2.utils.background import OrderedWorker


@pytest.mark.parametrize("enabled", [True, False])
def test_calls_run_in_order_and_all_before_close_returns(enabled):
    seen, threads = [], set()

    def add(i):
        if i % 3 == 0:
            time.sleep(0.002)  # uneven work must not reorder
        seen.append(i)
        threads.add(threading.get_ident())

    with OrderedWorker(enabled, max_pending=4) as worker:
        for i in range(50):
            worker.submit(add, i)
    assert seen == list(range(50))
    assert (threading.get_ident() in threads) == (not enabled)


def test_an_error_stops_the_worker_and_is_raised_in_the_caller():
    seen = []

    def add(i):
        if i == 5:
            raise ValueError("frame 5 is bad")
        seen.append(i)

    with pytest.raises(ValueError, match="frame 5 is bad"):
        with OrderedWorker(True, max_pending=2) as worker:
            for i in range(200):
                worker.submit(add, i)
    assert seen[:5] == [0, 1, 2, 3, 4] and 5 not in seen
    assert len(seen) < 199  # raised by a later submit, not only at the end


def test_an_error_of_the_last_call_is_raised_by_close():
    worker = OrderedWorker(True)
    worker.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        worker.close()


def test_pending_calls_are_bounded():
    gate, running = threading.Event(), []
    worker = OrderedWorker(True, max_pending=3)
    worker.submit(lambda: (running.append(1), gate.wait()))
    while not running:
        time.sleep(0.001)
    for _ in range(3):  # fill the queue behind the blocked call
        worker.submit(lambda: None)
    blocked = threading.Thread(target=worker.submit, args=(lambda: None,))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive(), "a fourth pending call was accepted"
    gate.set()
    blocked.join(5)
    assert not blocked.is_alive()
    worker.close()


def test_leaving_on_an_exception_drops_calls_not_started():
    gate, seen = threading.Event(), []
    with pytest.raises(KeyError):
        with OrderedWorker(True, max_pending=10) as worker:
            worker.submit(gate.wait)  # running while the block is left
            for i in range(5):
                worker.submit(seen.append, i)
            threading.Timer(0.2, gate.set).start()
            raise KeyError("model failed")
    assert seen == []
