"""Account provisioning: joiners, movers and leavers from the MIS into directories, as the school approved."""
