"""The RL controller searcher: an LSTM policy over the search space, trained with
REINFORCE (Zoph & Le, 2017), in numpy."""
