"""restore.training"""
