from paylink_tui.cli import main

raise SystemExit(main())
