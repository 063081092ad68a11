"""Agents of the city model.

Large emitters (power units, refineries) are individual :class:`mesa.Agent` objects with Python decision
logic. Households, vehicles and buildings are many (about 190k, 160k and 10k in Karamay), so each
population keeps its agents' state in column arrays and decides in one vectorised kernel per year; each
row is still reachable as a :class:`mesa.Agent` view registered with the model (see
:mod:`agents.population`).
"""
