"""The worker: sends what the outbox holds, within every account's limits.

``Worker`` runs the passes (``loop``), ``BatchSender`` sends one claimed
batch (``batch``), ``outcomes`` decides what becomes of each message, the
lease's ``Heartbeat`` keeps a slow batch its own (``lease``) and ``recording``
writes results as they come. A worker needs only a ``WorkerHost`` (``host``).
"""

from postroom.worker.host import WorkerHost
from postroom.worker.loop import Worker, WorkerReport, stop_on_signals

__all__ = ["Worker", "WorkerHost", "WorkerReport", "stop_on_signals"]
