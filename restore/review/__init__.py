"""restore.review"""
