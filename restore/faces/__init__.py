"""restore.faces"""
