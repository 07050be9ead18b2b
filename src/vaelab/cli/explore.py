"""`vaelab explore`: a page in the browser to play with a trained model, served from this machine.

Sliders for the latent dimensions, ordered by their KL (the collapsed ones marked), with the image decoded as
they move; for a loss-conditional run a beta slider that re-encodes and re-decodes the chosen image; your own
images to encode (pick or drop one); a walk between two images; and the map of the validation codes, where a
click decodes that point. The model runs here, on the server; the page loads nothing from outside (it works
offline). Stop it with Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from vaelab.cli.trained import load_trained, subcommand

EXAMPLES = """examples:
  vaelab explore runs/art-b01                      # open the address it prints: http://127.0.0.1:8000/
  vaelab explore runs/fm-all-betas --beta 0.1      # a loss-conditional run: the page starts at beta 0.1
  vaelab explore runs/art-b01 --port 0             # any free port
  vaelab explore runs/art-b01 --host 0.0.0.0       # reachable from other machines: anyone who can reach it can
                                                   # use the page (it has no login)

Needs starlette and uvicorn: pip install 'vaelab[explore]'.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = subcommand(commands, "explore", "a local web page to play with a trained model", __doc__, EXAMPLES)
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--max-upload", type=float, default=20.0, metavar="MB",
                        help="largest image file the page accepts, in megabytes (default 20); larger ones are "
                             "refused unread")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from vaelab.errors import UsageError

    try:
        from vaelab.serve.app import build_app
        from vaelab.serve.server import bind, is_local, serve, url_of
    except ImportError as error:
        raise UsageError(f"vaelab explore needs starlette and uvicorn ({error.name} is missing): "
                         "pip install 'vaelab[explore]'") from None

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port: give 1 to 65535, or 0 for any free one")
    if not args.max_upload > 0:
        raise UsageError(f"--max-upload {args.max_upload:g} must be a positive number of megabytes")
    listener = bind(args.host, args.port)  # first: a busy port is said before torch and the model load
    try:
        from vaelab.serve.explorer import Explorer

        explorer = Explorer(load_trained(args), max_upload_bytes=int(args.max_upload * 1e6))
    except BaseException:
        listener.close()
        raise
    if not is_local(listener):
        print(f"vaelab explore: warning: listening on {args.host}, beyond this machine: anyone who can reach it on "
              f"port {listener.getsockname()[1]} can use the page and send it files (it has no login); leave out "
              "--host to keep it to this machine", file=sys.stderr)
    if explorer.data_problem:
        print(f"vaelab explore: no map of the validation codes: {explorer.data_problem}", file=sys.stderr)

    def ready() -> None:
        print(f"vaelab explore: {explorer.model.describe()}\n  open {url_of(listener)}  (Ctrl-C stops)", flush=True)

    signum = serve(build_app(explorer), listener, ready)
    print("vaelab explore: stopped", file=sys.stderr)
    return 128 + signum  # the shell's convention for a process ended by a signal, as training's
