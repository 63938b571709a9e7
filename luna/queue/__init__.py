"""The validation job queue behind one interface: `JobQueue` (see `base`)."""

from luna.queue.base import Delivery, JobQueue

__all__ = ["Delivery", "JobQueue"]
