"""Events: pure text diffing (``diff``) and the rules that turn stored versions into events (``detect``)."""
