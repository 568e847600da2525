import threading

import pytest

from jaxgan.data.prefetch import Prefetcher


@pytest.mark.parametrize("size", [0, 1, 3])
def test_yields_make_of_each_step_in_order(size):
  threads = set()

  def make(step):
    threads.add(threading.current_thread().name)
    return step * step

  batches = Prefetcher(make, 5, 12, size)
  assert [batches.get(step) for step in range(5, 12)] == [s * s for s in range(5, 12)]
  batches.close()
  # Ahead of the loop means in another thread; size 0 computes in the caller's.
  assert threads == ({"jaxgan-prefetch"} if size else {threading.current_thread().name})


def test_errors_reach_the_loop_at_their_step():
  def make(step):
    if step == 2:
      raise FileNotFoundError("batch 2 is missing")
    return step

  batches = Prefetcher(make, 0, 5, 2)
  assert batches.get(0) == 0 and batches.get(1) == 1
  with pytest.raises(FileNotFoundError, match="batch 2"):
    batches.get(2)
  batches.close()


def test_out_of_order_request_and_bad_size_are_refused():
  batches = Prefetcher(lambda step: step, 0, 3, 1)
  with pytest.raises(ValueError, match="expected step 0"):
    batches.get(1)
  batches.close()
  with pytest.raises(ValueError, match="config.prefetch"):
    Prefetcher(lambda step: step, 0, 3, -1)


def test_close_stops_a_long_producer():
  batches = Prefetcher(lambda step: step, 0, 10**9, 2)
  assert batches.get(0) == 0
  batches.close()
  assert not batches._thread.is_alive()
