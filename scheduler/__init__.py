"""The scheduler: APScheduler rings the bell, the database decides what is due (DESIGN §9)."""
