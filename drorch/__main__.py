from drorch.cli import main

raise SystemExit(main())
