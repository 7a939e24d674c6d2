"""Deploying the detection lanes: the CloudFormation template (:mod:`.template`, with its least-privilege roles in
:mod:`.roles`), the Lambda package (:mod:`.package`), the template read as an inventory for the posture rules
(:mod:`.template_inventory`), and creating the stack (:mod:`.apply`)."""
