"""The inference API's web front: `vaelab explore RUN`, one page on a local server.

    explorer.py      the state and the answers (decodes, encodings, uploads, interpolations), without HTTP
    latent_space.py  the dimensions ordered by KL with the collapsed ones marked; the map of the validation codes
    app.py           the Starlette application: the page and its requests
    server.py        uvicorn on a socket bound here, stopped cleanly by Ctrl-C or SIGTERM
    page/            the page: HTML with inline script and styles, nothing loaded from outside

Needs starlette and uvicorn (`pip install 'vaelab[explore]'`; the test extra includes them).
"""
