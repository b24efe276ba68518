from memlab.cli import main

raise SystemExit(main())
