"""The strategic layer (DESIGN §6): games between governments whose payoffs come from simulator runs."""

from reesim.game.equilibria import analyse, reading
from reesim.game.payoffs import PayoffTensor, payoff_tensor
from reesim.game.repeated import RULES, Rule, play
from reesim.game.spec import Game, load_game

__all__ = [
    "RULES",
    "Game",
    "PayoffTensor",
    "Rule",
    "analyse",
    "load_game",
    "payoff_tensor",
    "play",
    "reading",
]
