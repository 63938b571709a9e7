"""Every message luna's actors exchange, as frozen dataclasses.

    await validator.tell(RunJob(delivery))          # consumer -> validator
    await consumer.tell(ValidatorReady(self.ref))   # validator -> consumer: give me one job

Actors share no state: what one needs from another travels in one of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luna.actors.runtime import ActorRef
    from luna.queue.base import Delivery


@dataclass(frozen=True)
class Stop:
    """Ends the receiving actor cleanly once the messages before it are handled (its
    `on_stop` runs). A supervisor restarts a permanent child even after a clean stop."""


@dataclass(frozen=True)
class ValidatorReady:
    """A validator is idle and asks for one job; `validator` is where to send it. Each
    validator has exactly one of these (or one `RunJob`) in flight at any time."""

    validator: ActorRef


@dataclass(frozen=True)
class RunJob:
    """Run the job of `delivery` and settle the delivery by the outcome."""

    delivery: Delivery
