"""What every engine shares: the request shape, the engine interface, and reading a Rego answer."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from generator.errors import PssgenError
from generator.policy.messages import parse_forbidden, split_head
from generator.policy.model import Result, Violation
from generator.policy.versions import Version

Request = tuple[Mapping[str, Any], str, Version]  # (object, level, version)
UNATTRIBUTED = "unattributed"  # the check named for PSA text pssgen could not read back into checks


class EngineError(PssgenError, RuntimeError):
    """An engine failed while judging: its process died, or it answered outside the protocol."""


class EngineUnavailable(EngineError):
    """The engine cannot run here (a tool is missing, or the engine is not built yet)."""


@dataclass(frozen=True, slots=True)
class Refused(Result):
    """No verdict: something refused the object before PSA could judge it (a live API server's validation).

    A Result so every engine keeps one shape; never allowed, so nothing that ignores the refusal lets it through.
    Reports show ``refusal`` as an error for the object.
    """

    refusal: str = ""


@dataclass(frozen=True, slots=True)
class Worded(Result):
    """A denial read back from an admission answer, with the answer's own text (PSA's head and detail), for the
    engines whose text may differ from PSA's in listed ways (``EngineBase.listed_difference``)."""

    text: str = ""


class Engine(Protocol):
    name: str

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]: ...

    def close(self) -> None: ...


class EngineBase(ABC):
    """What every engine offers: judge a batch of requests, in order; release what it holds on close."""

    name = "base"

    @abstractmethod
    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        """One Result per request, in request order."""

    def __enter__(self) -> EngineBase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def listed_difference(self, got: Result, psa_message: str) -> tuple[str, ...] | None:
        """The engine's documented ways of wording PSA's ``psa_message`` that ``got`` shows, or None: an engine
        whose text is always PSA's has none."""
        return None

    def close(self) -> None:  # noqa: B027 (not abstract: an engine that holds nothing has nothing to release)
        """Engines holding a process or connection release it here."""


def answer_result(answer: Mapping[str, Any], level: str, version: Version) -> Result:
    """An engine answer in Rego's shape (``allowed``, ``violations``) as a Result; errors fail loudly."""
    if answer.get("error") or answer.get("skipped"):
        raise EngineError(f"policy could not evaluate an object: {answer.get('error') or 'skipped'}")
    violations = tuple(Violation(v["check"], v["reason"], v["detail"]) for v in answer["violations"])
    return Result(bool(answer["allowed"]), violations, level, str(version))


def json_default(value: object) -> str:
    """For ``json.dumps`` of manifests read from YAML: timestamps become RFC 3339 strings, as in the API server's
    JSON (every Go tool pssgen feeds reads JSON)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def psa_result(text: str, level: str, version: str) -> Result:
    """PSA's denial or warning text (``violates``/``would violate PodSecurity "l:v": ...``) as a denied Result: the
    engines that ask an API server's admission (cluster, vap) read its answers back with it."""
    head = split_head(text)
    detail = head[2] if head else text
    violations = parse_forbidden(detail, level, version)
    if violations is None:
        violations = (Violation(UNATTRIBUTED, detail, ""),)
    return Result(False, violations, level, version)
