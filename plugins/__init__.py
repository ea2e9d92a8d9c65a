"""sharpreg's first-party plugins, registered through the ``sharpreg`` entry-point group."""
