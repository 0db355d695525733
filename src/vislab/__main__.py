import sys

from vislab.cli import main
from vislab.cli.worker import is_worker, leave

code = main()
if is_worker():  # one of torchrun's ranks: no interpreter shutdown (vislab.cli.worker says why)
    leave(code)
sys.exit(code)
