"""The part of `simpy.Environment` the simulator uses, with simpy's event order, for fast runs.

A run (`engine.Simulation`) only makes processes of kernel threads, timeouts and plain events that a CB
push or pop succeeds; every event has one waiting process at most. So an event here is just what to
resume, and the queue holds (time, priority, id, target) like simpy's, with the same priorities (a process
starts at URGENT, all else is NORMAL) and ids drawn in the same order: the processes resume in the same
order at the same times as under simpy, and a run makes as many steps (a process that ends still takes
its step). What differs is the cost of an event: no callback lists, no condition machinery.

Also as in simpy: an exception in a process is raised from the step that processes the process's end, as
a copy whose cause is the original; a process that yields anything but an event of this environment stops
the run with simpy's RuntimeError. `simulate(..., reference=True)` runs simpy itself.
"""

from __future__ import annotations

from collections.abc import Generator
from heapq import heappop, heappush
from itertools import count
from types import GeneratorType
from typing import Any

from simpy.core import EmptySchedule
from simpy.events import NORMAL, URGENT, _describe_frame

_NORMAL = int(NORMAL)
_URGENT = int(URGENT)


class FastTimeout:
    __slots__ = ("delay",)

    def __init__(self, delay: float) -> None:
        self.delay = delay


class FastEvent:
    """An event a CB call waits on: `succeed` schedules the process that yielded it."""

    __slots__ = ("env", "process", "triggered")

    def __init__(self, env: FastEnvironment) -> None:
        self.env = env
        self.process: Generator[Any, Any, Any] | None = None
        self.triggered = False

    def succeed(self) -> None:
        if self.triggered:
            raise RuntimeError(f"{self!r} has already been triggered")
        self.triggered = True
        env = self.env
        heappush(env._queue, (env._now, _NORMAL, next(env._eid), self))


class _Scheduled:
    """What a process yields after scheduling its own resumption (`schedule_resume`)."""

    __slots__ = ()


SCHEDULED = _Scheduled()


class _Ended:
    """A process's end: a step that does nothing (simpy processes the process's own event)."""

    __slots__ = ()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_ENDED = _Ended()


class FastEnvironment:
    def __init__(self) -> None:
        self._now: float = 0  # an int until the first timeout, as simpy's initial time
        self._queue: list[tuple[float, int, int, Any]] = []
        self._eid = count()

    @property
    def now(self) -> float:
        return self._now

    def process(self, generator: Generator[Any, Any, Any]) -> None:
        if not hasattr(generator, "throw"):
            raise ValueError(f"{generator} is not a generator.")
        heappush(self._queue, (self._now, _URGENT, next(self._eid), generator))

    def timeout(self, delay: float) -> FastTimeout:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        return FastTimeout(delay)

    def schedule_resume(self, process: Generator[Any, Any, Any], delay: float) -> _Scheduled:
        """A timeout of `delay` for `process`, scheduled now (as `timeout` is when it is made): the process
        then yields the returned `SCHEDULED`."""
        heappush(self._queue, (self._now + delay, _NORMAL, next(self._eid), process))
        return SCHEDULED

    def event(self) -> FastEvent:
        return FastEvent(self)

    def step(self) -> None:
        try:
            self._now, _, _, target = heappop(self._queue)
        except IndexError:
            raise EmptySchedule from None
        cls = type(target)
        if cls is FastEvent:
            target = target.process
            if target is None:
                return
        elif cls is _Ended:
            return
        elif cls is _Failed:
            self._fail(target)
        self._resume(target)

    def steps(self, limit: int) -> int:
        """`step` up to `limit` times; the number of steps made (fewer than `limit`: the queue is empty)."""
        queue = self._queue
        eid = self._eid
        for done in range(limit):
            if not queue:
                return done
            self._now, _, _, target = heappop(queue)
            if type(target) is not GeneratorType:
                cls = type(target)
                if cls is FastEvent:
                    target = target.process
                    if target is None:
                        continue
                elif cls is _Ended:
                    continue
                elif cls is _Failed:
                    self._fail(target)
            # `_resume`, inlined.
            try:
                event = target.send(None)
            except StopIteration:
                heappush(queue, (self._now, _NORMAL, next(eid), _ENDED))
                continue
            except BaseException as e:
                e.__traceback__ = e.__traceback__.tb_next if e.__traceback__ is not None else None
                heappush(queue, (self._now, _NORMAL, next(eid), _Failed(e)))
                continue
            if event is SCHEDULED:
                continue
            cls = type(event)
            if cls is FastTimeout:
                heappush(queue, (self._now + event.delay, _NORMAL, next(eid), target))
            elif cls is FastEvent and event.process is None:
                event.process = target
            else:
                self._invalid(target, event)
        return limit

    @staticmethod
    def _fail(failed: _Failed) -> None:
        error = failed.error
        copy = type(error)(*error.args)
        copy.__cause__ = error
        raise copy

    @staticmethod
    def _invalid(process: Generator[Any, Any, Any], event: Any) -> None:
        raise RuntimeError(f'\n{_describe_frame(process.gi_frame)}Invalid yield value "{event}"') from None

    def _resume(self, process: Generator[Any, Any, Any]) -> None:
        try:
            event = process.send(None)
        except StopIteration:
            heappush(self._queue, (self._now, _NORMAL, next(self._eid), _ENDED))
            return
        except BaseException as e:
            e.__traceback__ = e.__traceback__.tb_next if e.__traceback__ is not None else None
            heappush(self._queue, (self._now, _NORMAL, next(self._eid), _Failed(e)))
            return
        if event is SCHEDULED:
            return
        cls = type(event)
        if cls is FastTimeout:
            heappush(self._queue, (self._now + event.delay, _NORMAL, next(self._eid), process))
        elif cls is FastEvent and event.process is None:
            event.process = process
        else:
            self._invalid(process, event)
