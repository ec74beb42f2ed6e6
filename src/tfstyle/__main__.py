import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while Python was still importing: nothing started yet
    print("tfstyle: interrupted before the run started; nothing written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
