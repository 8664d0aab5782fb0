"""The lab's servers: a resolver that lies per scenario, and web servers with middlebox behaviours."""
