from package_trust.cli import console

raise SystemExit(console())
