"""restore.batch"""
