"""The policy engine: reward rules as versioned YAML data, evaluated with explanations."""
