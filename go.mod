module github.com/fcmon/fcmon

go 1.26
