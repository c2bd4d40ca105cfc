"""What Asterisk needs from the daemon's side: sounds, music on hold, generated config.

``sounds`` writes every prompt the production dialplan plays and the
``callcenter`` music class; ``sync`` turns the database (hotlines, department
numbers, agents) into the files ``asterisk/*.conf`` include, and reloads Asterisk.
"""
