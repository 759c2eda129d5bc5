// The rig scenario runner: scenario and rig files, steps, reports.
