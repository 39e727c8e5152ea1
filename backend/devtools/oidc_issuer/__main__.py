import sys

from backend.devtools.oidc_issuer.cli import main

sys.exit(main())
