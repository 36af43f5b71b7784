"""Developer tooling, not the processor: the embedded stack, the synthetic population and traffic,
the broker capability probes and the demo. Their third-party needs come with the ``[stack]`` extra;
a production image never imports this package."""
