from package_trust.cli import main

raise SystemExit(main())
